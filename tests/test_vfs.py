"""The kernel's file layer (``k.vfs``): the guest's rootfs as a tmpfs, with the kernel's
errnos. The shell scenarios exercise it end to end; these pin its own API."""

import errno

from emulator.kernel import Kernel
from emulator.vfs import BOGO_DIRENT_SIZE, Vfs


def test_the_guest_rootfs_after_boot():
    vfs = Kernel().vfs
    assert vfs.list("/") == ["bin", "dev", "init", "mods", "proc", "root", "sys", "tmp"]
    root, init = vfs.stat("/root"), vfs.stat("/init")
    assert root.is_dir and root.mode == 0o700
    assert not init.is_dir and init.mode == 0o755 and init.size > 0
    # tmpfs: a directory's size counts its entries, "." and ".." included
    assert vfs.stat("/").size == BOGO_DIRENT_SIZE * (8 + 2)


def test_create_write_read_unlink():
    vfs = Vfs()
    inode = vfs.create("/tmp/a")
    assert vfs.write(inode, b"hello") == 5
    assert vfs.write(inode, b"!", offset=None) == 1          # O_APPEND
    assert vfs.write(inode, b"J", offset=0) == 1
    assert vfs.read(inode) == b"Jello!"
    assert vfs.read(inode, 1, 3) == b"ell"
    assert vfs.write(inode, b"x", offset=8) == 1              # a hole reads as zeros
    assert vfs.read(inode) == b"Jello!\0\0x"
    assert vfs.stat("/tmp/a").size == 9
    assert vfs.create("/tmp/a") is inode                      # O_CREAT of an existing file
    assert vfs.unlink("/tmp/a") == 0
    assert vfs.lookup("/tmp/a") == -errno.ENOENT
    assert vfs.read(inode) == b"Jello!\0\0x"                  # an open file keeps its inode


def test_errnos_as_the_kernel_returns_them():
    vfs = Vfs()
    vfs.create("/tmp/f")
    assert vfs.mkdir("/tmp") == -errno.EEXIST
    assert vfs.mkdir("/nowhere/d") == -errno.ENOENT
    assert vfs.mkdir("/tmp/f/d") == -errno.ENOTDIR
    assert vfs.create("/tmp") == -errno.EISDIR
    assert vfs.create("/nowhere/f") == -errno.ENOENT
    assert vfs.stat("/tmp/f/x") == -errno.ENOTDIR
    assert vfs.stat("/tmp/none") == -errno.ENOENT
    assert vfs.list("/tmp/f") == -errno.ENOTDIR
    assert vfs.unlink("/tmp") == -errno.EISDIR
    assert vfs.unlink("/tmp/none") == -errno.ENOENT
    assert vfs.read(vfs.lookup("/tmp")) == -errno.EISDIR


def test_unpack_makes_parents_and_replaces_files():
    vfs = Vfs(initramfs=())
    vfs.unpack([("/mods/x.ko", 0o644, b"one"), ("/mods/x.ko", 0o600, b"two")])
    assert vfs.stat("/mods").is_dir and vfs.stat("/mods").mode == 0o755
    assert vfs.read(vfs.lookup("/mods/x.ko")) == b"two"
    assert vfs.stat("/mods/x.ko").mode == 0o600


def test_mknod_makes_a_node_stat_shows():
    vfs = Vfs()
    assert vfs.mknod("/tmp/dev", 0o644, "c", (42, 7)) == 0
    st = vfs.stat("/tmp/dev")
    assert (st.type, st.rdev, st.mode, st.size) == ("c", (42, 7), 0o644, 0)
    assert vfs.mknod("/tmp/dev", 0o644, "c", (1, 3)) == -errno.EEXIST
    assert vfs.mknod("/nowhere/dev", 0o644, "b", (1, 3)) == -errno.ENOENT
    assert "dev" in vfs.list("/tmp")
    assert vfs.unlink("/tmp/dev") == 0


def test_the_kernel_file_layer_writes_at_f_pos_and_appends_with_o_append():
    from emulator.files import O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, SEEK_SET
    with Kernel() as k:
        f = k.fs.open("/tmp/f", O_RDWR | O_CREAT)
        assert f.write_bytes(b"hello world") == 11
        assert f.llseek(6, SEEK_SET) == 6 and f.write_bytes(b"WORLD") == 5
        f.release()
        g = k.fs.open("/tmp/f", O_WRONLY | O_APPEND)
        assert g.write_bytes(b"!") == 1
        assert k.fs.open("/tmp/f", O_RDONLY).read_bytes(100) == b"hello WORLD!"
        assert k.fs.open("/tmp/f", O_RDONLY).write_bytes(b"x") == -errno.EBADF
        assert k.fs.open("/tmp/none", O_RDONLY) == -errno.ENOENT
        assert k.fs.open("/tmp/f", O_RDWR | O_CREAT | 0o200) == -errno.EEXIST
