/*
 * mcu_icount_plugin.c - a QEMU TCG plugin (API version 1, QEMU 7.2) counting the instructions an
 * AArch64 guest executes between marker instructions; `mcucompile run --profile` loads it into
 * qemu-aarch64 to count what each layer of a Cortex-A project executes.
 *
 * Markers are no-op moves a compiler never emits by itself (runner/profile.c places them):
 *     mov x9, x9    begin of a layer       mov x10, x10   end of a layer
 *     mov x11, x11  begin of an inference  mov x12, x12   end of an inference
 * (`mov xN, xN` is ORR xN, XZR, xN: 0xAA0003E0 | N << 16 | N). At every end marker one line
 * "layer N" or "invoke N" is appended to the file named by the argument out=PATH, N being the
 * instructions executed after the begin marker and before the end marker. Markers of one kind do not
 * nest (a layer runs inside an inference, which the two kinds allow).
 *
 * Counting: each translated block adds its instruction count to `executed` when it starts (one
 * inline add, cheap); a marker's callback knows how many of its block's instructions, itself
 * included, had not run yet when it fires, and subtracts them. One vCPU (qemu-user runs the
 * runner's single thread).
 *
 * Build: gcc -O2 -shared -fPIC -I<folder of qemu-plugin.h> -o libmcu_icount.so mcu_icount_plugin.c
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum marker { NOT_A_MARKER, LAYER_BEGIN, LAYER_END, INVOKE_BEGIN, INVOKE_END };

static uint64_t executed;
static uint64_t layer_from, invoke_from;
static FILE *out;

static enum marker marker_of(const struct qemu_plugin_insn *insn)
{
    const uint8_t *bytes = qemu_plugin_insn_data(insn);
    uint32_t word;
    if (qemu_plugin_insn_size(insn) != 4) {
        return NOT_A_MARKER;
    }
    word = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    switch (word) {
    case 0xAA0903E9u: return LAYER_BEGIN;
    case 0xAA0A03EAu: return LAYER_END;
    case 0xAA0B03EBu: return INVOKE_BEGIN;
    case 0xAA0C03ECu: return INVOKE_END;
    default: return NOT_A_MARKER;
    }
}

/* userdata: (instructions of the block from this marker on) * 8 + the marker kind */
static void at_marker(unsigned int vcpu, void *userdata)
{
    uintptr_t data = (uintptr_t)userdata;
    uint64_t before = executed - (uint64_t)(data >> 3); /* executed before this marker */
    (void)vcpu;
    switch ((enum marker)(data & 7u)) {
    case LAYER_BEGIN: layer_from = before + 1; break;
    case INVOKE_BEGIN: invoke_from = before + 1; break;
    case LAYER_END: fprintf(out, "layer %" PRIu64 "\n", before - layer_from); break;
    case INVOKE_END: fprintf(out, "invoke %" PRIu64 "\n", before - invoke_from); break;
    default: break;
    }
}

static void at_translation(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        enum marker kind = marker_of(insn);
        if (kind != NOT_A_MARKER) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, at_marker, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)((n - i) * 8u + (unsigned)kind));
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fprintf(out, "total %" PRIu64 "\n", executed);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    int i;
    (void)info;
    out = NULL;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out = fopen(argv[i] + 4, "w");
        }
    }
    if (out == NULL) {
        fprintf(stderr, "mcu_icount_plugin: give out=PATH, a file it can write\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, at_translation);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
