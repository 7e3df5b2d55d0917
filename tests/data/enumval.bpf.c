/* A CO-RE program asking which enumerators the kernel has, as bcc's libbpf-tools ask about
 * enum bpf_func_id: the fixture of tests/test_bpfobj.py's enum tests (scripts/make-bpf-fixtures
 * builds enumval.bpf.o from it). The enums are the test repository's (tests/test_enums.py). */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum func_id { FUNC_unspec, FUNC_map_lookup, FUNC_loop, __FUNC_MAX_ID };
enum colour { RED, GREEN = 4, BLUE, BLACK };
/* the enum under another name through a CO-RE flavor, as programs spell a compat path */
enum colour___o { WHITE___o = 7 };

SEC("kprobe/do_exit")
int probe(void *ctx)
{
	int n = 0;
	if (bpf_core_enum_value_exists(enum func_id, FUNC_loop))
		n += 1;
	n += bpf_core_enum_value(enum colour, BLUE);
	if (bpf_core_enum_value_exists(enum colour___o, WHITE___o))
		n += 2;
	return n;
}
char LICENSE[] SEC("license") = "GPL";
