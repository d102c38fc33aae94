/*
 * raw: no libc, raw x86-64 system calls (as tests/realkernel/finit.c), printing what each
 * returned, then exit(7).
 *
 *   raw           the calls below
 *   raw loop      spins for ever (the run's time limit ends it)
 *   raw hlt       executes a privileged instruction (SIGSEGV, as in user mode)
 *   raw kread     reads the kernel's text (SIGSEGV: user code cannot)
 *   raw kjump     jumps into the kernel's text (SIGSEGV)
 *   raw ud2       an invalid instruction (SIGILL)
 *   raw fork      fork(2) twice (not simulated by kmodsim: -ENOSYS, named once)
 *   raw spin N    N getpid calls, then exit(0)
 */

#define SYS_write 1
#define SYS_mmap 9
#define SYS_munmap 11
#define SYS_brk 12
#define SYS_getpid 39
#define SYS_exit 60
#define SYS_uname 63
#define SYS_getppid 110
#define SYS_exit_group 231

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile ("syscall"
			  : "=a"(ret)
			  : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			  : "rcx", "r11", "memory");
	return ret;
}

#define sys3(n, a, b, c) sys6(n, a, b, c, 0, 0, 0)

static long len(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	sys3(SYS_write, 1, (long)s, len(s));
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

static void show(const char *what, long v)
{
	put(what);
	put("=");
	put_long(v);
	put("\n");
}

static int eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	unsigned long *auxv;
	char uts[6 * 65];
	long brk0, p;

	if (argc > 1 && eq(argv[1], "loop"))
		for (;;)
			__asm__ volatile ("" ::: "memory");
	if (argc > 1 && eq(argv[1], "hlt"))
		__asm__ volatile ("hlt");
	if (argc > 1 && eq(argv[1], "kread"))
		show("kernel text", *(volatile long *)0xffffffff81000000UL);
	if (argc > 1 && eq(argv[1], "kjump"))
		((void (*)(void))0xffffffff81000000UL)();
	if (argc > 1 && eq(argv[1], "ud2"))
		__asm__ volatile ("ud2");
	if (argc > 1 && eq(argv[1], "fork")) {
		show("fork", sys3(57, 0, 0, 0));
		show("fork", sys3(57, 0, 0, 0));
		sys3(SYS_exit_group, 0, 0, 0);
	}
	if (argc > 2 && eq(argv[1], "spin")) {
		long n = 0;
		for (const char *c = argv[2]; *c; c++)
			n = n * 10 + (*c - '0');
		while (n--)
			sys3(SYS_getpid, 0, 0, 0);
		sys3(SYS_exit_group, 0, 0, 0);
	}
	show("argc", argc);
	while (*envp)
		envp++;
	auxv = (unsigned long *)(envp + 1);
	for (; auxv[0]; auxv += 2)
		if (auxv[0] == 6 || auxv[0] == 17 || auxv[0] == 23 || auxv[0] == 11)
			show(auxv[0] == 6 ? "AT_PAGESZ" : auxv[0] == 17 ? "AT_CLKTCK" :
			     auxv[0] == 23 ? "AT_SECURE" : "AT_UID", auxv[1]);
	show("write to fd 9", sys3(SYS_write, 9, (long)"x", 1));
	show("write bad pointer", sys3(SYS_write, 1, 16, 1));
	show("unknown syscall 335", sys3(335, 0, 0, 0));
	show("unknown syscall 1000", sys3(1000, 0, 0, 0));
	brk0 = sys3(SYS_brk, 0, 0, 0);
	show("brk grows by 8192", sys3(SYS_brk, brk0 + 8192, 0, 0) - brk0);
	p = sys6(SYS_mmap, 0, 1 << 16, 3, 0x22, -1, 0);
	*(volatile char *)p = 1;
	show("mmap 64K then munmap", sys3(SYS_munmap, p, 1 << 16, 0));
	show("mmap 1 TiB", sys6(SYS_mmap, 0, 1L << 40, 3, 0x22, -1, 0));
	show("uname", sys3(SYS_uname, (long)uts, 0, 0));
	put(uts);
	put(" ");
	put(uts + 2 * 65);
	put(" ");
	put(uts + 4 * 65);
	put("\n");
	show("pid", sys3(SYS_getpid, 0, 0, 0));
	show("ppid", sys3(SYS_getppid, 0, 0, 0));
	sys3(SYS_exit_group, 7, 0, 0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");
