/* libFuzzer target: SPNEGO tokens from a hostile server (the NEGOTIATE hint, the NegTokenResp
 * legs). Checks that what parses re-encodes to something that parses the same, and drives the
 * auth state machine with the input as the server's answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/spnego.h"
#include "smbgate/err.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return (a == NULL) == (b == NULL) && an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spnego_resp r, r2;
	struct spnego_init h;
	struct wbuf w;

	log_set_level(LOG_ERROR);
	wbuf_init(&w);
	if (spnego_parse_resp(data, size, &r) == 0) {
		/* supportedMech is not re-encoded by spnego_encode_resp: compare the rest. */
		if (spnego_encode_resp(&w, r.neg_state, r.response_token, r.response_token_len,
				       r.mech_list_mic, r.mech_list_mic_len) != 0 ||
		    spnego_parse_resp(w.p, w.len, &r2) != 0 || r2.neg_state != r.neg_state ||
		    !same(r.response_token, r.response_token_len, r2.response_token,
			  r2.response_token_len) ||
		    !same(r.mech_list_mic, r.mech_list_mic_len, r2.mech_list_mic,
			  r2.mech_list_mic_len))
			abort();
	}
	wbuf_reset(&w);
	if (spnego_parse_init(data, size, &h) == 0) {
		if (h.mech_token &&
		    (h.mech_token < data || h.mech_token + h.mech_token_len > data + size))
			abort();
	}

	/* The state machine: the input as the hint, then as the challenge leg, then as the
	 * final token. */
	struct smb_auth_creds creds = {.user = "user", .password = "pw"};
	struct smb_auth *a = smb_auth_new(&creds, 1);
	if (a) {
		wbuf_reset(&w);
		if (smb_auth_step(a, data, size, &w) == 0) {
			wbuf_reset(&w);
			if (smb_auth_step(a, data, size, &w) == 1)
				(void)smb_auth_finish(a, data, size);
		}
		smb_auth_free(a);
	}
	wbuf_free(&w);
	return 0;
}
