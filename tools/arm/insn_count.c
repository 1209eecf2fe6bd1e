/*
 * insn_count: a QEMU TCG plugin (user mode) that counts the guest instructions executed between
 * marks the guest makes. A mark is the syscall getppid (aarch64 number 173) called with x0 equal to
 * FM_MARK_MAGIC; the kernel ignores getppid's arguments, so the mark costs the guest nothing else.
 * At every mark the plugin appends the running instruction count to the file named by its `out=`
 * argument, one decimal number a line; the runner subtracts consecutive marks.
 *
 * Counting is per translation block: when a block starts, its instruction count is added (inline,
 * no callback), so a block left early would count whole (a fault); `svc` ends a block, so the marks
 * fall on block boundaries. Single guest thread assumed (the runner uses one).
 *
 * Debian 12's QEMU 7.2 ships no qemu-plugin.h, so the few API functions used are declared here.
 * Two API generations, chosen when compiling (-DFM_PLUGIN_API=1 or 2):
 *   1: QEMU 4.2 .. 8.x, qemu_plugin_register_vcpu_tb_exec_inline() on a plain counter;
 *   2: QEMU 9.0 and later, which removed that call: a per-vCPU scoreboard and
 *      qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu().
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef FM_PLUGIN_API
#define FM_PLUGIN_API 1
#endif

#define FM_EXPORT __attribute__((visibility("default")))
#define FM_GETPPID_AARCH64 173
#define FM_MARK_MAGIC 0x464d4152u /* "FMAR" */

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };

typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*syscall_cb)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                           uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                           uint64_t a7, uint64_t a8);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, syscall_cb cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);

#if FM_PLUGIN_API == 1
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
static uint64_t insns;
static uint64_t total(void) { return insns; }
#else
struct qemu_plugin_scoreboard;
typedef struct {
    struct qemu_plugin_scoreboard *score;
    size_t offset;
} qemu_plugin_u64;
struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t element_size);
uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 entry);
void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(struct qemu_plugin_tb *tb,
                                                       enum qemu_plugin_op op,
                                                       qemu_plugin_u64 entry, uint64_t imm);
static qemu_plugin_u64 insns;
static uint64_t total(void) { return qemu_plugin_u64_sum(insns); }
#endif

FM_EXPORT int qemu_plugin_version = FM_PLUGIN_API;

static FILE *out;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
#if FM_PLUGIN_API == 1
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns,
                                             qemu_plugin_tb_n_insns(tb));
#else
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(tb, QEMU_PLUGIN_INLINE_ADD_U64, insns,
                                                      qemu_plugin_tb_n_insns(tb));
#endif
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    (void)id; (void)vcpu_index; (void)a2; (void)a3; (void)a4; (void)a5; (void)a6; (void)a7;
    (void)a8;
    if (num == FM_GETPPID_AARCH64 && a1 == FM_MARK_MAGIC) {
        fprintf(out, "%" PRIu64 "\n", total());
        fflush(out);
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id; (void)userdata;
    fclose(out);
}

FM_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                  char **argv)
{
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "insn_count: no out=FILE argument\n");
        return 1;
    }
    out = fopen(path, "w");
    if (out == NULL) {
        perror(path);
        return 1;
    }
#if FM_PLUGIN_API != 1
    insns = (qemu_plugin_u64){qemu_plugin_scoreboard_new(sizeof(uint64_t)), 0};
#endif
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
