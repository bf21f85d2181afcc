/* A test fixture, never shipped: the bcryptprimitives.dll that Wine 8 lacks.
 *
 * Rust's standard library (1.78 and later) calls ProcessPrng from bcryptprimitives.dll at
 * start-up for its random numbers; without the DLL a Rust program exits 53 under Wine 8 before
 * main. This forwards ProcessPrng to RtlGenRandom (advapi32's SystemFunction036), Wine's CSPRNG.
 * scripts/test-windows.sh builds it with mingw into the throwaway Wine prefix's system32.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
