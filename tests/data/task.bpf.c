/* A CO-RE program reading a few task_struct members: the test fixture of tests/test_bpfobj.py
 * (scripts/make-bpf-fixtures builds task.bpf.o from it). */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sched_entity { __u64 vruntime; } __attribute__((preserve_access_index));
struct task_struct {
	int pid;
	unsigned int __state;
	struct sched_entity se;
	struct { int inner; };
} __attribute__((preserve_access_index));
/* the name an older kernel used, read through a CO-RE flavor on the compat path */
struct task_struct___o { long state; } __attribute__((preserve_access_index));
struct syscall_trace_enter { int nr; long args[6]; } __attribute__((preserve_access_index));

SEC("kprobe/do_exit")
int probe(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct syscall_trace_enter *e = ctx;
	int pid = BPF_CORE_READ(t, pid);
	__u64 vr = BPF_CORE_READ(t, se.vruntime);
	int in = BPF_CORE_READ(t, inner);
	long arg = BPF_CORE_READ(e, args[1]);
	if (bpf_core_field_exists(t->__state))
		pid += BPF_CORE_READ(t, __state);
	else
		pid += BPF_CORE_READ((struct task_struct___o *)t, state);
	return pid + (int)vr + in + (int)arg + bpf_core_type_exists(struct sched_entity);
}
char LICENSE[] SEC("license") = "GPL";
