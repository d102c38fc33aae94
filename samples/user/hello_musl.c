/*
 * hello_musl: the same kind of program built with `musl-gcc -static`.
 *
 *   hello_musl             argv, stdio, a file written and read back in /tmp, getdents
 *   hello_musl segv        calls through a NULL function pointer
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[64];
	struct stat st;
	DIR *d;
	struct dirent *e;
	int fd;
	long n;

	if (argc > 1 && !strcmp(argv[1], "segv")) {
		void (*f)(void) = 0;
		puts("calling NULL");
		fflush(stdout);
		f();
		return 0;
	}
	printf("hello from musl, argc=%d", argc);
	for (int i = 1; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\n");
	fd = open("/tmp/musl.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	n = write(fd, "written by musl\n", 16);
	close(fd);
	printf("write=%ld\n", n);
	fd = open("/tmp/musl.txt", O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read=%ld: %s", n, buf);
	printf("lseek=%ld\n", (long)lseek(fd, 8, SEEK_SET));
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("after lseek: %s", buf);
	close(fd);
	if (stat("/tmp/musl.txt", &st) == 0)
		printf("stat: size=%ld mode=%o\n", (long)st.st_size, (unsigned)st.st_mode);
	d = opendir("/tmp");
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			printf("/tmp: %s\n", e->d_name);
	if (d)
		closedir(d);
	printf("unlink=%d\n", unlink("/tmp/musl.txt"));
	n = stat("/tmp/musl.txt", &st);
	printf("stat again=%ld errno=%d\n", n, errno);
	printf("getcwd=%s\n", getcwd(buf, sizeof(buf)));
	return 0;
}
