/*
 * A PKCS#11 module that wraps a real one (P11FAULT_MODULE, e.g. SoftHSM2) to count calls and
 * inject the faults a software token cannot produce, for graphd's CLI tests (tests/cli/pkcs11.rs
 * builds it with the C compiler and loads it with --pkcs11-module). Never shipped.
 *
 *   P11FAULT_LOG=FILE   append one line per C_Login and per signing C_Sign (not the size query)
 *   P11FAULT=...        comma-separated faults:
 *     pin-locked        the token reports CKF_USER_PIN_LOCKED and C_Login answers CKR_PIN_LOCKED
 *     login-locked      only C_Login answers CKR_PIN_LOCKED (a token that says so late)
 *     removed           C_SignInit and C_Sign answer CKR_DEVICE_REMOVED (the token pulled after
 *                       graphd found and logged in to it)
 *     no-pss            C_GetMechanismList hides CKM_SHA256_RSA_PKCS_PSS and CKM_RSA_PKCS_PSS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;

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
    if (rv != CKR_OK || list == NULL || !fault("no-pss")) return rv;
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; i < *count; i++) {
        if (list[i] != CKM_SHA256_RSA_PKCS_PSS && list[i] != CKM_RSA_PKCS_PSS) list[kept++] = list[i];
    }
    *count = kept;
    return rv;
}

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
        shim.C_GetTokenInfo = shim_GetTokenInfo;
        shim.C_Login = shim_Login;
        shim.C_SignInit = shim_SignInit;
        shim.C_Sign = shim_Sign;
        shim.C_GetMechanismList = shim_GetMechanismList;
    }
    *out = &shim;
    return CKR_OK;
}
