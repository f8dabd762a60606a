/*
 * cpu.c — what the CPU and OS let us run (CPUID + XGETBV), computed once.
 * PXS_FORCE_GENERIC=1 in the environment masks everything so the scalar
 * twins of every kernel can be exercised on any machine.
 */
#include "pixseek/core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned detect(void) {
    unsigned a, b, c, d, flags = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t xcr0 = read_xcr0();
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    int amx_ok = (xcr0 & 0x60000) == 0x60000;
    if (!ymm_ok) return 0;
    if (f16c) flags |= PXS_CPU_F16C;
    if (__get_cpuid_max(0, NULL) < 7) return flags;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1,
        avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    int amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1, amx_bf16 = (d >> 22) & 1;
    if (avx2 && fma) flags |= PXS_CPU_AVX2;
    if (zmm_ok && avx512f && avx512dq && avx512bw && avx512vl && (flags & PXS_CPU_AVX2)) {
        flags |= PXS_CPU_AVX512F;
        if (vnni) flags |= PXS_CPU_AVX512VNNI;
        __cpuid_count(7, 1, a, b, c, d);
        if ((a >> 5) & 1) flags |= PXS_CPU_AVX512BF16;
        if (amx_ok && amx_tile && amx_int8 && amx_bf16) flags |= PXS_CPU_AMX;
    }
    return flags;
}
#else
static unsigned detect(void) { return 0; }
#endif

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static unsigned cpu_flags;
static char cpu_text[128];

static void cpu_init(void) {
    const char *force = getenv("PXS_FORCE_GENERIC");
    cpu_flags = (force && strcmp(force, "1") == 0) ? 0 : detect();
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {{PXS_CPU_AVX2, "avx2"},
                 {PXS_CPU_F16C, "f16c"},
                 {PXS_CPU_AVX512F, "avx512"},
                 {PXS_CPU_AVX512VNNI, "avx512vnni"},
                 {PXS_CPU_AVX512BF16, "avx512bf16"},
                 {PXS_CPU_AMX, "amx"}};
    cpu_text[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(cpu_flags & names[i].flag)) continue;
        if (cpu_text[0]) strcat(cpu_text, " ");
        strcat(cpu_text, names[i].name);
    }
    if (!cpu_text[0]) strcpy(cpu_text, "generic");
}

unsigned pxs_cpu_features(void) {
    pthread_once(&cpu_once, cpu_init);
    return cpu_flags;
}

const char *pxs_cpu_describe(void) {
    pthread_once(&cpu_once, cpu_init);
    return cpu_text;
}
