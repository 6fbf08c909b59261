/* SMB2/3 message signing (MS-SMB2 3.1.4.1) over OpenSSL EVP. */
#ifndef SMBGATE_SIGN_H
#define SMBGATE_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Values are the SMB2 SIGNING_CAPABILITIES algorithm ids. */
enum smb2_sign_alg { SMB2_SIGN_HMAC_SHA256 = 0, SMB2_SIGN_AES_CMAC = 1, SMB2_SIGN_AES_GMAC = 2 };

/* Computes the 16-byte signature of one SMB2 message given as iovecs. iov[0] starts with the
 * 64-byte SMB2 header whose Signature field (bytes 48..63) the caller has zeroed. key is 16
 * bytes. For GMAC the nonce is built from the header's MessageId, Flags and Command.
 * Returns 0 or SMBG_ECRYPTO / SMBG_EINVAL. */
int smb2_sign(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov, int iovcnt,
	      uint8_t sig[16]);

#endif
