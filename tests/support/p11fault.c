/*
 * A PKCS#11 module that wraps a real one (P11FAULT_MODULE, e.g. SoftHSM2) to count calls and
 * inject the faults a software token cannot produce, for graphd's CLI tests (tests/cli/pkcs11.rs
 * builds it with the C compiler and loads it with --pkcs11-module). Never shipped.
 *
 *   P11FAULT_LOG=FILE   append one line per C_Initialize, per C_Finalize, per C_Login and per
 *                       signing C_Sign (not the size query), and `mechanism 0x..` per C_SignInit
 *   P11FAULT=...        comma-separated faults:
 *     pin-locked        the token reports CKF_USER_PIN_LOCKED and C_Login answers CKR_PIN_LOCKED
 *     login-locked      only C_Login answers CKR_PIN_LOCKED (a token that says so late)
 *     removed           C_SignInit and C_Sign answer CKR_DEVICE_REMOVED (the token pulled after
 *                       graphd found and logged in to it)
 *     no-pss            C_GetMechanismList hides CKM_SHA256_RSA_PKCS_PSS and CKM_RSA_PKCS_PSS
 *     raw-only          C_GetMechanismList hides the mechanisms that hash on the token
 *                       (CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS), as many smart cards
 *                       offer only CKM_RSA_PKCS(_PSS) over a digest made by the caller
 *     no-slots          C_GetSlotList lists nothing (no token, ever)
 *     no-slots-once     C_GetSlotList lists nothing until the module is initialized again (as
 *                       SoftHSM's file store shows a token another process is writing); the
 *                       file P11FAULT_LOG.once remembers it happened, across loads and processes
 *   P11FAULT_SERIAL=FILE each call that reads or writes the token holds an exclusive flock on
 *                       FILE, so that processes sharing a SoftHSM token find it as safe to share
 *                       as a real token is (SoftHSM's file store rewrites the token's file at
 *                       each login, and another process reading it meanwhile fails)
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;
/* The list the serializing wrappers call: the real module with the faults above. */
static CK_FUNCTION_LIST inner;

static int fault(const char *name) {
    const char *f = getenv("P11FAULT");
    return f != NULL && strstr(f, name) != NULL;
}

static void log_call(const char *name) {
    const char *path = getenv("P11FAULT_LOG");
    if (path == NULL) return;
    FILE *f = fopen(path, "a");
    if (f == NULL) return;
    fprintf(f, "%s\n", name);
    fclose(f);
}

static CK_RV shim_Initialize(CK_VOID_PTR args) {
    log_call("C_Initialize");
    return real->C_Initialize(args);
}

/* no-slots-once: whether this initialization is the one that sees no slot. */
static int hide_slots;

static CK_RV shim_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    if (fault("no-slots-once") && !hide_slots) {
        const char *path = getenv("P11FAULT_LOG");
        char once[4096];
        if (path != NULL && snprintf(once, sizeof once, "%s.once", path) < (int)sizeof once) {
            FILE *f = fopen(once, "wx");
            if (f != NULL) {
                fclose(f);
                hide_slots = 1;
            }
        }
    }
    if (fault("no-slots") && !fault("no-slots-once")) hide_slots = 1;
    if (hide_slots) {
        if (count == NULL) return CKR_ARGUMENTS_BAD;
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present, list, count);
}

static CK_RV shim_Finalize(CK_VOID_PTR reserved) {
    log_call("C_Finalize");
    if (fault("no-slots-once")) hide_slots = 0;
    return real->C_Finalize(reserved);
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
    CK_RV rv = real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && fault("pin-locked")) info->flags |= CKF_USER_PIN_LOCKED;
    return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
    log_call("C_Login");
    if (fault("pin-locked") || fault("login-locked")) return CKR_PIN_LOCKED;
    return real->C_Login(s, user, pin, len);
}

static CK_RV shim_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
    if (m != NULL) {
        char line[64];
        snprintf(line, sizeof line, "mechanism 0x%lx", (unsigned long)m->mechanism);
        log_call(line);
    }
    if (fault("removed")) return CKR_DEVICE_REMOVED;
    return real->C_SignInit(s, m, key);
}

static CK_RV shim_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                       CK_ULONG_PTR sig_len) {
    if (fault("removed")) return CKR_DEVICE_REMOVED;
    if (sig != NULL) log_call("C_Sign");
    return real->C_Sign(s, data, len, sig, sig_len);
}

static CK_RV shim_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    CK_RV rv = real->C_GetMechanismList(slot, list, count);
    if (rv != CKR_OK || list == NULL) return rv;
    int no_pss = fault("no-pss"), raw_only = fault("raw-only");
    if (!no_pss && !raw_only) return rv;
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; i < *count; i++) {
        CK_MECHANISM_TYPE t = list[i];
        int hide = (no_pss && (t == CKM_SHA256_RSA_PKCS_PSS || t == CKM_RSA_PKCS_PSS)) ||
                   (raw_only && (t == CKM_SHA256_RSA_PKCS_PSS || t == CKM_SHA256_RSA_PKCS));
        if (!hide) list[kept++] = t;
    }
    *count = kept;
    return rv;
}

static int serial_lock(void) {
    const char *path = getenv("P11FAULT_SERIAL");
    if (path == NULL) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) flock(fd, LOCK_EX);
    return fd;
}

static void serial_unlock(int fd) {
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}

#define SERIAL(name, params, args)                                                               \
    static CK_RV serial_##name params {                                                           \
        int fd = serial_lock();                                                                   \
        CK_RV rv = inner.name args;                                                               \
        serial_unlock(fd);                                                                        \
        return rv;                                                                                \
    }

SERIAL(C_Initialize, (CK_VOID_PTR a), (a))
SERIAL(C_Finalize, (CK_VOID_PTR a), (a))
SERIAL(C_GetInfo, (CK_INFO_PTR i), (i))
SERIAL(C_GetSlotList, (CK_BBOOL p, CK_SLOT_ID_PTR l, CK_ULONG_PTR c), (p, l, c))
SERIAL(C_GetSlotInfo, (CK_SLOT_ID s, CK_SLOT_INFO_PTR i), (s, i))
SERIAL(C_GetTokenInfo, (CK_SLOT_ID s, CK_TOKEN_INFO_PTR i), (s, i))
SERIAL(C_GetMechanismList, (CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR l, CK_ULONG_PTR c), (s, l, c))
SERIAL(C_GetMechanismInfo, (CK_SLOT_ID s, CK_MECHANISM_TYPE t, CK_MECHANISM_INFO_PTR i), (s, t, i))
SERIAL(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h),
       (s, f, a, n, h))
SERIAL(C_CloseSession, (CK_SESSION_HANDLE h), (h))
SERIAL(C_GetSessionInfo, (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR i), (h, i))
SERIAL(C_Login, (CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n), (h, u, p, n))
SERIAL(C_Logout, (CK_SESSION_HANDLE h), (h))
SERIAL(C_FindObjectsInit, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n), (h, t, n))
SERIAL(C_FindObjects, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR c),
       (h, o, m, c))
SERIAL(C_FindObjectsFinal, (CK_SESSION_HANDLE h), (h))
SERIAL(C_GetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
       (h, o, t, n))
SERIAL(C_SignInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (h, m, k))
SERIAL(C_Sign, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG n, CK_BYTE_PTR s, CK_ULONG_PTR l),
       (h, d, n, s, l))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
    if (out == NULL) return CKR_ARGUMENTS_BAD;
    if (real == NULL) {
        const char *path = getenv("P11FAULT_MODULE");
        if (path == NULL) return CKR_GENERAL_ERROR;
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) return CKR_GENERAL_ERROR;
        CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
        if (get == NULL) return CKR_GENERAL_ERROR;
        CK_RV rv = get(&real);
        if (rv != CKR_OK) return rv;
        shim = *real;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_Initialize = shim_Initialize;
        shim.C_Finalize = shim_Finalize;
        shim.C_GetSlotList = shim_GetSlotList;
        shim.C_GetTokenInfo = shim_GetTokenInfo;
        shim.C_Login = shim_Login;
        shim.C_SignInit = shim_SignInit;
        shim.C_Sign = shim_Sign;
        shim.C_GetMechanismList = shim_GetMechanismList;
        if (getenv("P11FAULT_SERIAL") != NULL) {
            inner = shim;
            shim.C_Initialize = serial_C_Initialize;
            shim.C_Finalize = serial_C_Finalize;
            shim.C_GetInfo = serial_C_GetInfo;
            shim.C_GetSlotList = serial_C_GetSlotList;
            shim.C_GetSlotInfo = serial_C_GetSlotInfo;
            shim.C_GetTokenInfo = serial_C_GetTokenInfo;
            shim.C_GetMechanismList = serial_C_GetMechanismList;
            shim.C_GetMechanismInfo = serial_C_GetMechanismInfo;
            shim.C_OpenSession = serial_C_OpenSession;
            shim.C_CloseSession = serial_C_CloseSession;
            shim.C_GetSessionInfo = serial_C_GetSessionInfo;
            shim.C_Login = serial_C_Login;
            shim.C_Logout = serial_C_Logout;
            shim.C_FindObjectsInit = serial_C_FindObjectsInit;
            shim.C_FindObjects = serial_C_FindObjects;
            shim.C_FindObjectsFinal = serial_C_FindObjectsFinal;
            shim.C_GetAttributeValue = serial_C_GetAttributeValue;
            shim.C_SignInit = serial_C_SignInit;
            shim.C_Sign = serial_C_Sign;
        }
    }
    *out = &shim;
    return CKR_OK;
}
