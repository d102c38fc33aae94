/*
 * hello_glibc: a user program as a student builds it, `gcc -static` against glibc.
 *
 *   hello_glibc            argv, environment, uname, /dev/null, /proc/modules, malloc
 *   hello_glibc segv       writes through a NULL pointer (the shell says Segmentation fault)
 *   hello_glibc exit N     exits with status N
 *   hello_glibc enosys     calls a system call the kernel does not have
 *
 * stdout is written with printf (line-buffered on the console, fully buffered in a file);
 * stderr with fprintf (unbuffered).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static void show_args(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
}

static void dev_null(void)
{
	char buf[16];
	int fd = open("/dev/null", O_RDWR);
	long w, r;

	if (fd < 0) {
		perror("open /dev/null");
		return;
	}
	w = write(fd, "discarded", 9);
	r = read(fd, buf, sizeof(buf));
	printf("/dev/null: fd=%d write=%ld read=%ld\n", fd, w, r);
	close(fd);
}

static void proc_modules(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/modules", "r");

	if (!f) {
		perror("fopen /proc/modules");
		return;
	}
	printf("/proc/modules:\n");
	while (fgets(buf, sizeof(buf), f))
		printf("| %s", buf);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct utsname u;
	char *p;

	if (argc > 1 && !strcmp(argv[1], "segv")) {
		printf("about to write through NULL\n");
		fflush(stdout);
		*(volatile int *)0 = 1;
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "exit")) {
		printf("exiting with %s\n", argv[2]);
		exit(atoi(argv[2]));
	}
	if (argc > 1 && !strcmp(argv[1], "enosys")) {
		long rc = syscall(335);
		printf("syscall(335)=%ld errno=%d (%s)\n", rc, errno, strerror(errno));
		return 0;
	}
	printf("hello from glibc\n");
	show_args(argc, argv);
	if (uname(&u) == 0)
		printf("uname: %s %s %s %s\n", u.sysname, u.release, u.version, u.machine);
	dev_null();
	proc_modules();
	p = malloc(1 << 20);
	memset(p, 'x', 1 << 20);
	printf("malloc(1 MiB): %s\n", p ? "ok" : "failed");
	free(p);
	fprintf(stderr, "to stderr\n");
	printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());
	printf("cwd access: %d\n", access("/mods", R_OK));
	{
		int fd = open("/nonexistent", O_RDONLY);
		printf("missing: %d errno=%d\n", fd, errno);
	}
	return 3;
}
