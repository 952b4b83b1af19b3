/*
 * mcu_blocks_plugin.c - a QEMU TCG plugin (API version 1, QEMU 7.2) for qemu-system-arm that counts,
 * for every layer of a Cortex-M firmware, how many times each translated block ran and how often the
 * block was left by a taken branch. `mcucompile run --profile` loads it and turns the counts into
 * cycle estimates (mcucompile/cycles.py): a block's steady-state cycles times its executions.
 *
 * Markers: Thumb no-op moves between high registers, which no compiler emits by itself (main.c's
 * MCU_PROFILE hooks place them; 0x46C0 = mov r8, r8 is avoided, old Thumb-1 code used it as a nop):
 *     mov r9, r9    0x46C9  begin of a layer          mov r10, r10  0x46D2  end of a layer
 *     mov r11, r11  0x46DB  begin of an inference     mov r12, r12  0x46E4  end of an inference
 * A begin marker itself counts in the span it opens, an end marker outside the span it closes.
 *
 * Output (file named by out=PATH), one record a line, in execution order:
 *     block ID VADDR INSNS HEX      a block's definition, before its first `count` (HEX: its bytes)
 *     count ID EXECUTIONS TAKEN     in the span being closed: runs of block ID, and how many of them
 *                                   were left other than by falling through to the next address
 *     layer INSNS                   closes a layer: the `count` lines since the last close
 *     gap INSNS                     closes a part of an inference outside its layers (one before
 *                                   each layer and one at its end)
 *     outside INSNS                 closes what ran before an inference, outside every inference
 *     invoke INSNS                  an inference's instructions (its layers and its gap)
 *     total INSNS                   at exit, everything the guest executed
 *
 * Blocks: each translation block, split before every marker so that a block never spans two spans
 * (the piece after a marker is counted by the marker's callback). QEMU may translate one address
 * several times (other lengths, or again after a flush): each translation is a block of its own.
 *
 * Under -icount an MMIO access that is not a block's last instruction makes QEMU stop the block
 * there, run the access alone (in a block it gives plugins no callback for) and resume at the next
 * instruction: the first block's callback has counted instructions that then run again. An inline
 * counter on each block's last instruction shows a block that did not run to its end; when the next
 * block starts inside it, the instructions from there on are taken off again, so instruction totals
 * are exact, and such a stop is not a taken exit. (Only the SysTick reads of main.c do MMIO, outside
 * the layers.)
 *
 * Build: gcc -O2 -shared -fPIC -I<folder of qemu-plugin.h> -o libmcu_blocks.so mcu_blocks_plugin.c
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum marker { NOT_A_MARKER, LAYER_BEGIN, LAYER_END, INVOKE_BEGIN, INVOKE_END };

struct block {
    uint64_t vaddr, end;      /* first byte, first byte after */
    uint32_t id, n_insns;
    uint32_t *insn_offsets;   /* byte offset of each instruction from vaddr */
    uint8_t *bytes;
    uint32_t size;
    enum marker opened_by;    /* the marker this block starts with, if any */
    uint64_t count, taken;    /* in the open span */
    uint64_t completions;     /* times its last instruction ran (an inline add) */
    uint64_t completions_then; /* ... when it was last counted */
    int touched, defined;
};

static FILE *out;
static struct block **blocks;          /* by id */
static uint32_t n_blocks, cap_blocks;
static struct block **touched;         /* blocks with counts in the open span */
static uint32_t n_touched, cap_touched;
static struct block *previous;         /* the block that ran last */
static uint64_t span_insns, invoke_insns, total_insns;
static int in_layer, in_invoke;

static void *grow(void *array, uint32_t *cap, size_t item)
{
    *cap = *cap ? *cap * 2u : 1024u;
    array = realloc(array, *cap * item);
    if (array == NULL) {
        fprintf(stderr, "mcu_blocks_plugin: out of memory\n");
        exit(1);
    }
    return array;
}

/* An instruction's length from its first halfword (Thumb: 32-bit when bits 15..11 are 0b11101,
 * 0b11110 or 0b11111). QEMU's own figure can be too long: the last instruction of some blocks comes
 * with its bytes twice. */
static size_t thumb_size(const struct qemu_plugin_insn *insn)
{
    const uint8_t *bytes = qemu_plugin_insn_data(insn);
    size_t given = qemu_plugin_insn_size(insn);
    size_t size;
    if (given < 2) {
        return given;
    }
    size = (bytes[1] >> 3) >= 0x1Du ? 4u : 2u;
    return size < given ? size : given;
}

static enum marker marker_at(const struct qemu_plugin_insn *insn)
{
    const uint8_t *bytes = qemu_plugin_insn_data(insn);
    uint16_t half;
    if (thumb_size(insn) != 2) {
        return NOT_A_MARKER;
    }
    half = (uint16_t)(bytes[0] | bytes[1] << 8);
    switch (half) {
    case 0x46C9u: return LAYER_BEGIN;
    case 0x46D2u: return LAYER_END;
    case 0x46DBu: return INVOKE_BEGIN;
    case 0x46E4u: return INVOKE_END;
    default: return NOT_A_MARKER;
    }
}

/* Block B ran once (in the open span). */
static void count(struct block *b)
{
    if (previous != NULL && b->vaddr != previous->end) {
        int cut_short = previous->completions == previous->completions_then;
        if (cut_short && b->vaddr > previous->vaddr && b->vaddr < previous->end) {
            /* resumed inside the previous block after an MMIO access: its tail ran once, not twice */
            uint32_t i, tail = 0;
            for (i = 0; i < previous->n_insns; i++) {
                tail += previous->vaddr + previous->insn_offsets[i] >= b->vaddr;
            }
            span_insns -= tail;
            total_insns -= tail;
        } else {
            previous->taken++;
        }
    }
    if (!b->touched) {
        if (n_touched == cap_touched) {
            touched = grow(touched, &cap_touched, sizeof *touched);
        }
        touched[n_touched++] = b;
        b->touched = 1;
    }
    b->count++;
    b->completions_then = b->completions;
    span_insns += b->n_insns;
    total_insns += b->n_insns;
    previous = b;
}

/* Writes the open span's counts and starts a new span. */
static void close_span(const char *kind)
{
    uint32_t i, j;
    for (i = 0; i < n_touched; i++) {
        struct block *b = touched[i];
        if (!b->defined) {
            fprintf(out, "block %" PRIu32 " %" PRIx64 " %" PRIu32 " ", b->id, b->vaddr, b->n_insns);
            for (j = 0; j < b->size; j++) {
                fprintf(out, "%02x", b->bytes[j]);
            }
            fputc('\n', out);
            b->defined = 1;
        }
        fprintf(out, "count %" PRIu32 " %" PRIu64 " %" PRIu64 "\n", b->id, b->count, b->taken);
        b->count = b->taken = 0;
        b->touched = 0;
    }
    n_touched = 0;
    fprintf(out, "%s %" PRIu64 "\n", kind, span_insns);
    if (in_invoke) {
        invoke_insns += span_insns;
    }
    span_insns = 0;
}

static void at_block(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    count(blocks[(uintptr_t)userdata]);
}

/* The marker that starts block userdata is about to run: switch spans, then count the block. */
static void at_marker(unsigned int vcpu, void *userdata)
{
    struct block *b = blocks[(uintptr_t)userdata];
    (void)vcpu;
    previous = NULL; /* the block before the marker fell through into it */
    switch (b->opened_by) {
    case LAYER_BEGIN:
        close_span("gap"); /* the inference's instructions before this layer: the reader sums its gaps */
        in_layer = 1;
        break;
    case LAYER_END:
        if (in_layer) {
            close_span("layer");
        }
        in_layer = 0;
        break;
    case INVOKE_BEGIN:
        close_span("outside");
        in_invoke = 1;
        invoke_insns = 0;
        break;
    case INVOKE_END:
        close_span("gap");
        fprintf(out, "invoke %" PRIu64 "\n", invoke_insns);
        in_invoke = 0;
        break;
    default:
        break;
    }
    count(b);
}

static struct block *new_block(struct qemu_plugin_tb *tb, size_t from, size_t to, enum marker opened_by)
{
    struct block *b = calloc(1, sizeof *b);
    size_t i, size = 0;
    if (b == NULL || (b->insn_offsets = calloc(to - from, sizeof *b->insn_offsets)) == NULL) {
        fprintf(stderr, "mcu_blocks_plugin: out of memory\n");
        exit(1);
    }
    b->vaddr = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, from));
    for (i = from; i < to; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        b->insn_offsets[i - from] = (uint32_t)(qemu_plugin_insn_vaddr(insn) - b->vaddr);
        size += thumb_size(insn);
    }
    b->bytes = malloc(size ? size : 1);
    if (b->bytes == NULL) {
        fprintf(stderr, "mcu_blocks_plugin: out of memory\n");
        exit(1);
    }
    size = 0;
    for (i = from; i < to; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        memcpy(b->bytes + size, qemu_plugin_insn_data(insn), thumb_size(insn));
        size += thumb_size(insn);
    }
    b->size = (uint32_t)size;
    b->end = b->vaddr + size;
    b->n_insns = (uint32_t)(to - from);
    b->opened_by = opened_by;
    if (n_blocks == cap_blocks) {
        blocks = grow(blocks, &cap_blocks, sizeof *blocks);
    }
    b->id = n_blocks;
    blocks[n_blocks++] = b;
    return b;
}

static void at_translation(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i, from = 0;
    enum marker opened_by = NOT_A_MARKER;
    (void)id;
    for (i = 0; i <= n; i++) {
        enum marker kind = NOT_A_MARKER;
        if (i < n) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            kind = marker_at(insn);
        }
        if ((kind != NOT_A_MARKER && i > from) || i == n) {
            struct block *b = new_block(tb, from, i, opened_by);
            uintptr_t data = (uintptr_t)b->id;
            if (opened_by == NOT_A_MARKER) {
                qemu_plugin_register_vcpu_tb_exec_cb(tb, at_block, QEMU_PLUGIN_CB_NO_REGS, (void *)data);
            } else {
                qemu_plugin_register_vcpu_insn_exec_cb(qemu_plugin_tb_get_insn(tb, from), at_marker,
                                                       QEMU_PLUGIN_CB_NO_REGS, (void *)data);
            }
            qemu_plugin_register_vcpu_insn_exec_inline(qemu_plugin_tb_get_insn(tb, i - 1), QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &b->completions, 1);
            from = i;
        }
        if (kind != NOT_A_MARKER) {
            opened_by = kind;
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fprintf(out, "total %" PRIu64 "\n", total_insns);
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
        fprintf(stderr, "mcu_blocks_plugin: give out=PATH, a file it can write\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, at_translation);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
