/* sources.c: the admission limits (per address, in total, MaxStartups' random early drop)
 * and the growing per-address delay after failed logins. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ssh/sources.h"
#include "ssh/ssh.h"
#include "util/clock.h"

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static void test_caps(void **state)
{
	(void)state;
	struct ssh_serve_opts o;
	ssh_serve_opts_default(&o);
	o.max_conns = 5;
	o.max_conns_per_source = 3;
	o.startups_begin = o.startups_full = 100; /* not in the way here */
	struct ssh_sources *t = ssh_sources_new(&o);
	assert_non_null(t);
	char why[160];
	struct sockaddr_storage a = addr("10.0.0.1"), b = addr("10.0.0.2");
	for (int i = 0; i < 3; i++)
		assert_int_equal(ssh_sources_admit(t, &a, why, sizeof(why)), 0);
	assert_true(ssh_sources_admit(t, &a, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "per-source"));
	assert_int_equal(ssh_sources_admit(t, &b, why, sizeof(why)), 0);
	assert_int_equal(ssh_sources_admit(t, &b, why, sizeof(why)), 0);
	assert_true(ssh_sources_admit(t, &b, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "--max-connections ("));
	ssh_sources_leave(t, &a, 1);
	assert_int_equal(ssh_sources_admit(t, &b, why, sizeof(why)), 0);
	ssh_sources_free(t);
}

static void test_startups(void **state)
{
	(void)state;
	struct ssh_serve_opts o;
	ssh_serve_opts_default(&o); /* 10:30:100 */
	o.max_conns_per_source = 1000;
	struct ssh_sources *t = ssh_sources_new(&o);
	char why[160];
	struct sockaddr_storage a = addr("10.0.0.1");
	for (int i = 0; i < 10; i++) /* up to the start: all */
		assert_int_equal(ssh_sources_admit(t, &a, why, sizeof(why)), 0);
	int some = 0;
	for (int i = 0; i < 50; i++) /* then some, at random */
		some += ssh_sources_admit(t, &a, why, sizeof(why)) == 0;
	assert_true(some > 0 && some < 50);
	int admitted = 10 + some;
	for (int i = 0; i < 5000; i++) /* never past the full mark */
		admitted += ssh_sources_admit(t, &a, why, sizeof(why)) == 0;
	assert_true(admitted <= 100);
	assert_non_null(strstr(why, "--max-startups"));
	/* another address with nothing pending is refused only at the full mark */
	struct sockaddr_storage b = addr("10.0.0.2");
	if (admitted < 100)
		assert_int_equal(ssh_sources_admit(t, &b, why, sizeof(why)), 0);
	else
		assert_true(ssh_sources_admit(t, &b, why, sizeof(why)) < 0);
	/* logged-in connections are no startups */
	for (int i = 0; i < admitted; i++)
		ssh_sources_logged_in(t, &a);
	ssh_sources_logged_in(t, &b);
	for (int i = 0; i < 10; i++) /* below the start again */
		assert_int_equal(ssh_sources_admit(t, &a, why, sizeof(why)), 0);
	ssh_sources_free(t);
}

static void test_penalty_grows(void **state)
{
	(void)state;
	struct ssh_serve_opts o;
	ssh_serve_opts_default(&o);
	struct ssh_sources *t = ssh_sources_new(&o);
	struct sockaddr_storage a = addr("10.0.0.1"), b = addr("10.0.0.2");
	assert_int_equal(ssh_sources_wait_until(t, &a), 0);
	int64_t last = 0;
	for (int i = 0; i < 8; i++) {
		ssh_sources_failed(t, &a);
		int64_t d = ssh_sources_wait_until(t, &a) - clock_now_ms();
		assert_true(d > last || d >= SOURCE_PENALTY_MAX_MS - 100);
		assert_true(d <= SOURCE_PENALTY_MAX_MS);
		last = d;
	}
	assert_true(last >= SOURCE_PENALTY_MAX_MS - 100);
	assert_int_equal(ssh_sources_wait_until(t, &b), 0); /* others are not slowed */
	ssh_sources_free(t);
}

static void test_table_bounded(void **state)
{
	(void)state;
	struct ssh_serve_opts o;
	ssh_serve_opts_default(&o);
	o.max_conns = 2;
	struct ssh_sources *t = ssh_sources_new(&o);
	char ip[32], why[160];
	struct sockaddr_storage live = addr("10.1.0.1");
	assert_int_equal(ssh_sources_admit(t, &live, why, sizeof(why)), 0);
	/* many failing addresses: the oldest make room, the live connection keeps its entry */
	for (int i = 0; i < 3 * SOURCE_SPARE_ENTRIES; i++) {
		snprintf(ip, sizeof(ip), "10.2.%d.%d", i / 250, i % 250 + 1);
		struct sockaddr_storage a = addr(ip);
		ssh_sources_failed(t, &a);
		assert_true(ssh_sources_wait_until(t, &a) > 0);
	}
	ssh_sources_leave(t, &live, 1);
	assert_int_equal(ssh_sources_admit(t, &live, why, sizeof(why)), 0);
	assert_int_equal(ssh_sources_admit(t, &live, why, sizeof(why)), 0);
	assert_true(ssh_sources_admit(t, &live, why, sizeof(why)) < 0); /* max_conns 2 */
	ssh_sources_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_startups),
	    cmocka_unit_test(test_penalty_grows),
	    cmocka_unit_test(test_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
