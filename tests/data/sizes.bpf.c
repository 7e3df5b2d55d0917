/* A CO-RE program whose reads a release may size differently: the fixture of the retyped
 * tests in tests/test_bpfobj.py (scripts/make-bpf-fixtures builds sizes.bpf.o from it). */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

typedef struct { int counter; } atomic_t;
struct widget {
	int prio;		/* read as 4 bytes: a release with a long here gives garbage */
	int mode : 3;		/* a signed bitfield, read sign-extended */
	__u32 users;		/* the test's repo gives it a type srcdiff cannot size */
	atomic_t refs;
	char name[16];
	void *owner;
} __attribute__((preserve_access_index));

SEC("kprobe/widget_put")
int probe(struct widget *w)
{
	long prio = BPF_CORE_READ(w, prio);
	long mode = BPF_CORE_READ_BITFIELD_PROBED(w, mode);
	__u32 users = BPF_CORE_READ(w, users);
	atomic_t refs = BPF_CORE_READ(w, refs);
	char c = BPF_CORE_READ(w, name[1]);
	void *owner = BPF_CORE_READ(w, owner);
	return prio + mode + users + refs.counter + c + (owner != 0);
}
char LICENSE[] SEC("license") = "GPL";
