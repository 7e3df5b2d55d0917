/* A CO-RE program reading a few task_struct members (test fixture for srcdiff check). */
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

SEC("kprobe/do_exit")
int probe(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int pid = BPF_CORE_READ(t, pid);
	__u64 vr = BPF_CORE_READ(t, se.vruntime);
	int in = BPF_CORE_READ(t, inner);
	if (bpf_core_field_exists(t->__state))
		pid += 1;
	return pid + (int)vr + in + bpf_core_type_exists(struct sched_entity);
}
char LICENSE[] SEC("license") = "GPL";
