/*
 * finit FILE [FLAGS]: load FILE with finit_module(fd, "", FLAGS) and print
 * "rc=<return value>" (0 or -errno), so a scenario sees the exact errno the
 * kernel returned and can pass MODULE_INIT_IGNORE_MODVERSIONS (1) and
 * MODULE_INIT_IGNORE_VERMAGIC (2), which busybox insmod cannot.
 *
 * No libc (the guest has none): raw x86-64 system calls.  Built by the
 * test suite when it regenerates the real-kernel goldens:
 *   gcc -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector -O2 -o finit finit.c
 */

#define SYS_write 1
#define SYS_open 2
#define SYS_exit 60
#define SYS_finit_module 313

static long syscall3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile ("syscall"
			  : "=a"(ret)
			  : "a"(n), "D"(a), "S"(b), "d"(c)
			  : "rcx", "r11", "memory");
	return ret;
}

static void put(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	syscall3(SYS_write, 1, (long)s, n);
}

static void put_long(long v)
{
	char buf[24];
	int i = sizeof(buf) - 1;
	int neg = v < 0;
	unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;

	buf[i] = 0;
	do {
		buf[--i] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (neg)
		buf[--i] = '-';
	put(buf + i);
}

static long parse_long(const char *s)
{
	long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	long fd, rc, flags = 0;

	if (argc < 2) {
		put("usage: finit FILE [FLAGS]\n");
		syscall3(SYS_exit, 2, 0, 0);
	}
	if (argc > 2)
		flags = parse_long(argv[2]);
	fd = syscall3(SYS_open, (long)argv[1], 0, 0);
	if (fd < 0) {
		put("finit: cannot open ");
		put(argv[1]);
		put("\n");
		syscall3(SYS_exit, 2, 0, 0);
	}
	rc = syscall3(SYS_finit_module, fd, (long)"", flags);
	put("rc=");
	put_long(rc);
	put("\n");
	syscall3(SYS_exit, rc ? 1 : 0, 0, 0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");
