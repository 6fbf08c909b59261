/* DOS error classes and codes (MS-CIFS 2.2.2.4) mapped to NTSTATUS, so that one table
 * (smb/ntstatus.c) turns every server error into the error enum and a message. A server that
 * does not negotiate 32-bit status codes answers with these. Codes without an NTSTATUS
 * equivalent become SMB1_STATUS_DOS(class, code). */
#include "smb/smb1/smb1.h"

#define ERRDOS 0x01
#define ERRSRV 0x02
#define ERRHRD 0x03
#define ERRCMD 0xFF

/* clang-format off */
static const struct {
	uint8_t cls;
	uint16_t code;
	uint32_t status;
} dos_table[] = {
	{ERRDOS, 1,    0xC0000010u}, /* ERRbadfunc: INVALID_DEVICE_REQUEST */
	{ERRDOS, 2,    0xC0000034u}, /* ERRbadfile: OBJECT_NAME_NOT_FOUND */
	{ERRDOS, 3,    0xC000003Au}, /* ERRbadpath: OBJECT_PATH_NOT_FOUND */
	{ERRDOS, 4,    0xC000011Fu}, /* ERRnofids: TOO_MANY_OPENED_FILES */
	{ERRDOS, 5,    0xC0000022u}, /* ERRnoaccess: ACCESS_DENIED */
	{ERRDOS, 6,    0xC0000008u}, /* ERRbadfid: INVALID_HANDLE */
	{ERRDOS, 8,    0xC0000017u}, /* ERRnomem: NO_MEMORY */
	{ERRDOS, 12,   0xC0000022u}, /* ERRbadaccess: ACCESS_DENIED */
	{ERRDOS, 13,   0xC000003Eu}, /* ERRbaddata: DATA_ERROR */
	{ERRDOS, 16,   0xC0000101u}, /* ERRremcd: DIRECTORY_NOT_EMPTY (current directory) */
	{ERRDOS, 17,   0xC00000D4u}, /* ERRdiffdevice: NOT_SAME_DEVICE */
	{ERRDOS, 18,   0x80000006u}, /* ERRnofiles: NO_MORE_FILES */
	{ERRDOS, 32,   0xC0000043u}, /* ERRbadshare: SHARING_VIOLATION */
	{ERRDOS, 33,   0xC0000054u}, /* ERRlock: FILE_LOCK_CONFLICT */
	{ERRDOS, 39,   0xC000007Fu}, /* ERRdiskfull: DISK_FULL */
	{ERRDOS, 50,   0xC00000BBu}, /* ERRunsup: NOT_SUPPORTED */
	{ERRDOS, 64,   0xC00000C9u}, /* ERRnetnamedel: NETWORK_NAME_DELETED */
	{ERRDOS, 67,   0xC00000CCu}, /* ERRnosuchshare: BAD_NETWORK_NAME */
	{ERRDOS, 80,   0xC0000035u}, /* ERRfilexists: OBJECT_NAME_COLLISION */
	{ERRDOS, 87,   0xC000000Du}, /* ERRinvalidparam: INVALID_PARAMETER */
	{ERRDOS, 112,  0xC000007Fu}, /* ERRdiskfull: DISK_FULL */
	{ERRDOS, 123,  0xC0000033u}, /* ERRinvalidname: OBJECT_NAME_INVALID */
	{ERRDOS, 124,  0xC0000148u}, /* ERRunknownlevel: INVALID_LEVEL */
	{ERRDOS, 145,  0xC0000101u}, /* ERRdirnotempty: DIRECTORY_NOT_EMPTY */
	{ERRDOS, 158,  0xC000007Eu}, /* ERRnotlocked: RANGE_NOT_LOCKED */
	{ERRDOS, 183,  0xC0000035u}, /* ERRalreadyexists: OBJECT_NAME_COLLISION */
	{ERRDOS, 230,  0xC00000ADu}, /* ERRbadpipe: INVALID_PIPE_STATE */
	{ERRDOS, 231,  0xC00000AEu}, /* ERRpipebusy: PIPE_BUSY */
	{ERRDOS, 232,  0xC00000B1u}, /* ERRpipeclosing: PIPE_CLOSING */
	{ERRDOS, 233,  0xC00000B0u}, /* ERRnotconnected: PIPE_DISCONNECTED */
	{ERRDOS, 234,  0x80000005u}, /* ERRmoredata: BUFFER_OVERFLOW */
	{ERRDOS, 282,  0xC000004Fu}, /* ERReasnotsupported: EAS_NOT_SUPPORTED */
	{ERRDOS, 1326, 0xC000006Du}, /* ERRlogonfailure: LOGON_FAILURE */
	{ERRSRV, 1,    0xC0000001u}, /* ERRerror: UNSUCCESSFUL */
	{ERRSRV, 2,    0xC000006Du}, /* ERRbadpw: LOGON_FAILURE */
	{ERRSRV, 4,    0xC0000022u}, /* ERRaccess: ACCESS_DENIED */
	{ERRSRV, 5,    0xC00000C9u}, /* ERRinvtid: NETWORK_NAME_DELETED */
	{ERRSRV, 6,    0xC00000CCu}, /* ERRinvnetname: BAD_NETWORK_NAME */
	{ERRSRV, 7,    0xC00000CBu}, /* ERRinvdevice: BAD_DEVICE_TYPE */
	{ERRSRV, 64,   0xC0000002u}, /* ERRsmbcmd: NOT_IMPLEMENTED */
	{ERRSRV, 65,   0xC0000001u}, /* ERRsrverror: UNSUCCESSFUL */
	{ERRSRV, 88,   0xC00000B5u}, /* ERRtimeout: IO_TIMEOUT */
	{ERRSRV, 89,   0xC0000205u}, /* ERRnoresource: INSUFF_SERVER_RESOURCES */
	{ERRSRV, 91,   0xC0000203u}, /* ERRbaduid: USER_SESSION_DELETED */
	{ERRSRV, 2239, 0xC0000193u}, /* ERRaccountexpired: ACCOUNT_EXPIRED */
	{ERRSRV, 2240, 0xC0000070u}, /* ERRbadclient: INVALID_WORKSTATION */
	{ERRSRV, 2241, 0xC000006Fu}, /* ERRbadLogonTime: INVALID_LOGON_HOURS */
	{ERRSRV, 2242, 0xC0000071u}, /* ERRpasswordExpired: PASSWORD_EXPIRED */
	{ERRSRV, 0xFFFF, 0xC00000BBu}, /* ERRnosupport: NOT_SUPPORTED */
	{ERRHRD, 19,   0xC00000A2u}, /* ERRnowrite: MEDIA_WRITE_PROTECTED */
	{ERRHRD, 23,   0xC000003Eu}, /* ERRdata: DATA_ERROR */
	{ERRHRD, 29,   0xC0000185u}, /* ERRwrite: IO_DEVICE_ERROR */
	{ERRHRD, 30,   0xC0000185u}, /* ERRread: IO_DEVICE_ERROR */
	{ERRHRD, 31,   0xC0000001u}, /* ERRgeneral: UNSUCCESSFUL */
	{ERRHRD, 32,   0xC0000043u}, /* ERRbadshare: SHARING_VIOLATION */
	{ERRHRD, 33,   0xC0000054u}, /* ERRlock: FILE_LOCK_CONFLICT */
	{ERRHRD, 39,   0xC000007Fu}, /* ERRdiskfull: DISK_FULL */
	{ERRCMD, 0,    0xC0000002u}, /* not an SMB command the server knows */
};
/* clang-format on */

uint32_t smb1_dos_to_ntstatus(uint8_t cls, uint16_t code)
{
	for (size_t i = 0; i < sizeof(dos_table) / sizeof(dos_table[0]); i++)
		if (dos_table[i].cls == cls && dos_table[i].code == code)
			return dos_table[i].status;
	return SMB1_STATUS_DOS(cls, code);
}
