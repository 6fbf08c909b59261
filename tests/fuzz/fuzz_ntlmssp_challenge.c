/* libFuzzer target: an NTLMSSP CHALLENGE_MESSAGE from a hostile server. Parses it and, when it
 * parses, lets the client answer it (AV_PAIR rewriting, MIC, key exchange, signing). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ntlmssp.h"
#include "smbgate/err.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t key[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
	static const uint64_t t = 0;
	struct ntlmssp_fixed fx = {.client_challenge = cc, .random_session_key = key, .time = &t};
	struct ntlmssp_challenge ch;
	struct wbuf neg, auth;
	uint8_t sig[16];

	log_set_level(LOG_ERROR); /* the NTLMv1 warning would flood the output */
	if (ntlmssp_challenge_parse(data, size, &ch) == 0) {
		/* Whatever parsed lies inside the input. */
		if ((ch.target_name && (ch.target_name < data ||
					ch.target_name + ch.target_name_len > data + size)) ||
		    (ch.target_info &&
		     (ch.target_info < data || ch.target_info + ch.target_info_len > data + size)))
			abort();
	}
	/* Both with and without NTLMv1 allowed, named and anonymous. */
	for (int mode = 0; mode < 3; mode++) {
		struct ntlmssp_client *c =
		    mode == 2 ? ntlmssp_client_new(NULL, NULL, NULL, NULL, 0)
			      : ntlmssp_client_new("user", mode ? NULL : "DOM", "pw", NULL, mode);
		if (!c)
			continue; /* out of memory: the next mode may still get one */
		ntlmssp_client_set_fixed(c, &fx);
		wbuf_init(&neg);
		wbuf_init(&auth);
		if (ntlmssp_client_negotiate(c, &neg) == 0 &&
		    ntlmssp_client_authenticate(c, data, size, &auth) == 0) {
			(void)ntlmssp_client_sign(c, data, size, sig);
			(void)ntlmssp_client_verify(c, data, size, sig);
		}
		wbuf_free(&neg);
		wbuf_free(&auth);
		ntlmssp_client_free(c);
	}
	return 0;
}
