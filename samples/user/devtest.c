/*
 * devtest: drive a character device from a program, as a course lab's test does
 * (samples/linux/chardev_lab): open, write, lseek, read, the three ioctls and a bad one,
 * bad user pointers (EFAULT), a second open while the first is held (EBUSY), poll.
 *
 *   devtest [DEVICE]      default /dev/chardev_lab
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CLAB_RESET _IO('k', 0)
#define CLAB_GETLEN _IOR('k', 1, int)
#define CLAB_SETFILL _IOW('k', 2, int)

static void show(const char *what, long rc)
{
	if (rc < 0)
		printf("%s: -1 %s\n", what, strerror(errno));
	else
		printf("%s: %ld\n", what, rc);
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/chardev_lab";
	char buf[80];
	int fd, fd2, len = -1, fill = 'x';
	struct pollfd p;
	long n;

	setvbuf(stdout, NULL, _IONBF, 0);
	fd = open(dev, O_RDWR);
	show("open", fd);
	if (fd < 0)
		return 1;
	show("second open", fd2 = open(dev, O_RDONLY));
	show("write", write(fd, "hello, device", 13));
	show("lseek", lseek(fd, 7, SEEK_SET));
	n = read(fd, buf, sizeof(buf));
	show("read", n);
	if (n > 0)
		printf("data: %.*s\n", (int)n, buf);
	show("ioctl GETLEN", ioctl(fd, CLAB_GETLEN, &len));
	printf("len: %d\n", len);
	show("ioctl SETFILL", ioctl(fd, CLAB_SETFILL, &fill));
	show("lseek end", lseek(fd, -4, SEEK_END));
	n = read(fd, buf, sizeof(buf));
	show("read", n);
	if (n > 0)
		printf("data: %.*s\n", (int)n, buf);
	show("ioctl bad command", ioctl(fd, _IO('k', 9)));
	show("ioctl GETLEN NULL", ioctl(fd, CLAB_GETLEN, (int *)0));
	show("ioctl SETFILL kernel pointer", ioctl(fd, CLAB_SETFILL, (int *)0xffffffff81000000UL));
	show("lseek 0", lseek(fd, 0, SEEK_SET));
	show("read into NULL", read(fd, (char *)0, 8));
	show("write from NULL", write(fd, (char *)0, 8));
	show("ioctl RESET", ioctl(fd, CLAB_RESET));
	p.fd = fd;
	p.events = POLLIN | POLLOUT;
	show("poll", poll(&p, 1, 0));
	printf("revents: %#x\n", p.revents);
	show("close", close(fd));
	show("reopen", fd = open(dev, O_RDONLY));
	show("read after reset", read(fd, buf, sizeof(buf)));
	return 0;
}
