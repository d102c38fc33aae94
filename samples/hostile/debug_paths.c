// SPDX-License-Identifier: GPL-2.0
/*
 * debug_paths - WARN_ON in code whose source file, as the compiler
 * records it, is a file of the host that runs kmodsim.
 *
 * `#line 1 "/etc/passwd"` makes __FILE__ (in __bug_table) and the DWARF
 * line table name /etc/passwd.  The real kernel just prints the name
 * ("WARNING: CPU: 0 PID: 84 at /etc/passwd:1 ...") and loads the module;
 * a tool that shows the source line of a fault must not open it.
 *
 * which=1  /etc/passwd                 a host file
 * which=2  /proc/self/environ          the tool's own environment
 * which=3  /dev/zero                   endless, and no newline
 * which=4  ../../../../../../../../etc/hostname   out of the source tree
 * which=5  /dev/stdin                  blocks a reader
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int which = 1;
module_param(which, int, 0444);
MODULE_PARM_DESC(which, "1-5: the fault's file (see the source)");

static void at_passwd(void);
static void at_environ(void);
static void at_zero(void);
static void at_hostname(void);
static void at_stdin(void);

static int __init debug_paths_init(void)
{
	pr_info("debug_paths: %d\n", which);
	switch (which) {
	case 1: at_passwd(); break;
	case 2: at_environ(); break;
	case 3: at_zero(); break;
	case 4: at_hostname(); break;
	case 5: at_stdin(); break;
	default: return -EINVAL;
	}
	return 0;
}

static void __exit debug_paths_exit(void)
{
}

module_init(debug_paths_init);
module_exit(debug_paths_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: faults whose debug info names host files");

/* Everything below is "in" the files named by #line. */
#line 1 "/etc/passwd"
static noinline void at_passwd(void) { WARN_ON(which); }
#line 1 "/proc/self/environ"
static noinline void at_environ(void) { WARN_ON(which); }
#line 1 "/dev/zero"
static noinline void at_zero(void) { WARN_ON(which); }
#line 1 "../../../../../../../../etc/hostname"
static noinline void at_hostname(void) { WARN_ON(which); }
#line 1 "/dev/stdin"
static noinline void at_stdin(void) { WARN_ON(which); }
