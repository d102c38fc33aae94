/*
 * clab_user: what a student's test program for the chardev_lab module does, one system
 * call at a time: open /dev/chardev_lab, write a greeting, seek back to the start, read it
 * back, ask the driver for its length with an ioctl, close. Each call prints its result.
 *
 * Built static (the simulated guest has no shared libraries), by notebooks/programs/Makefile:
 *     musl-gcc -static -Os -o clab_user clab_user.c
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CLAB_GETLEN _IOR('k', 1, int)	/* as in samples/linux/chardev_lab */

int main(void)
{
	static const char greeting[] = "hello from user space";
	char back[65] = "";
	int length = -1, rc;
	int fd = open("/dev/chardev_lab", O_RDWR);

	if (fd < 0) {
		perror("open /dev/chardev_lab");
		return 1;
	}
	printf("open: fd %d\n", fd);
	printf("write: %zd\n", write(fd, greeting, strlen(greeting)));
	printf("lseek: %ld\n", (long)lseek(fd, 0, SEEK_SET));
	printf("read: %zd \"%s\"\n", read(fd, back, sizeof(back) - 1), back);
	rc = ioctl(fd, CLAB_GETLEN, &length);	/* before printf reads length */
	printf("ioctl GETLEN: %d, length %d\n", rc, length);
	printf("close: %d\n", close(fd));
	return 0;
}
