/* SPNEGO (RFC 4178, MS-SPNG) tokens for NTLMSSP: a minimal DER encoder and a parser that reads
 * every byte through util/cursor.h, checks every length against what contains it and never
 * recurses. Parsed pointers borrow from the input buffer. */
#ifndef SMBGATE_SPNEGO_H
#define SMBGATE_SPNEGO_H

#include <stddef.h>
#include <stdint.h>

#include "util/wbuf.h"

/* negState values (RFC 4178 4.2.2). */
enum spnego_neg_state {
	SPNEGO_ABSENT = -1,
	SPNEGO_ACCEPT_COMPLETED = 0,
	SPNEGO_ACCEPT_INCOMPLETE = 1,
	SPNEGO_REJECT = 2,
	SPNEGO_REQUEST_MIC = 3
};

/* DER of the NTLMSSP mechanism OID 1.3.6.1.4.1.311.2.2.10, tag and length included. */
extern const uint8_t spnego_oid_ntlmssp[12];

/* The MechTypeList this client sends, DER: SEQUENCE { NTLMSSP OID }. It is what the
 * mechListMIC covers. */
extern const uint8_t spnego_mech_types_ntlmssp[14];

/* Appends the initial token: [APPLICATION 0] { SPNEGO OID, [0] NegTokenInit { mechTypes
 * (NTLMSSP), mechToken } }. */
int spnego_encode_init(struct wbuf *out, const uint8_t *mech_token, size_t mech_token_len);

/* Appends [1] NegTokenResp; neg_state SPNEGO_ABSENT leaves it out, a NULL token or mic too. */
int spnego_encode_resp(struct wbuf *out, enum spnego_neg_state neg_state, const uint8_t *token,
		       size_t token_len, const uint8_t *mic, size_t mic_len);

struct spnego_resp {
	enum spnego_neg_state neg_state;
	const uint8_t *supported_mech; /* the OID's content bytes, NULL when absent */
	size_t supported_mech_len;
	const uint8_t *response_token; /* NULL when absent */
	size_t response_token_len;
	const uint8_t *mech_list_mic; /* NULL when absent */
	size_t mech_list_mic_len;
};

/* Parses a NegTokenResp ([1]). SMBG_EPROTO when malformed. */
int spnego_parse_resp(const uint8_t *p, size_t len, struct spnego_resp *out);

struct spnego_init {
	int offers_ntlmssp;	   /* NTLMSSP is one of mechTypes */
	size_t mech_count;	   /* entries in mechTypes */
	const uint8_t *mech_token; /* NULL when absent */
	size_t mech_token_len;
};

/* Parses a GSS-API framed NegTokenInit or NegTokenInit2 (the server's hint in NEGOTIATE, or a
 * client's first token). SMBG_EPROTO when malformed. */
int spnego_parse_init(const uint8_t *p, size_t len, struct spnego_init *out);

/* 1 when the OID content bytes are NTLMSSP's. */
int spnego_oid_is_ntlmssp(const uint8_t *oid, size_t len);

#endif
