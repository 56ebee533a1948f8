/* SPDX-License-Identifier: ISC */
/*
 * file - durable file writes and small file helpers.
 *
 * A durable write is: temp file (O_EXCL, 0600) -> write -> fsync -> rename
 * -> fsync of the directory. Only after all five may the data be relied on.
 *
 * SECURITY: creates files 0600 and directories with the given mode; never
 * follows a symlink for the temp file (O_EXCL|O_NOFOLLOW).
 */
#ifndef POSTERN_FILE_H
#define POSTERN_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/buf.h"

/* write_all - write n bytes, retrying on EINTR and short writes. */
int write_all(int fd, const void *p, size_t n);
/* pwrite_all - the same at an offset. */
int pwrite_all(int fd, const void *p, size_t n, off_t off);
/* read_all - read up to n bytes; returns bytes read or -1. */
ssize_t read_all(int fd, void *p, size_t n);
/* pread_all - read exactly n bytes at off; -1 on error or short file. */
int pread_all(int fd, void *p, size_t n, off_t off);
/* fsync_dir - fsync the directory at path. */
int fsync_dir(const char *path);
/* file_write_durable - replace dir/name with data, durably. */
int file_write_durable(const char *dir, const char *name, const void *data, size_t len);
/* file_write_atomic - replace dir/name with data atomically (readers see
 * the old or the new file, never a mix) but without waiting for the disk:
 * after a crash either version, or an empty file, may be found. */
int file_write_atomic(const char *dir, const char *name, const void *data, size_t len);
/* file_read - read a whole regular file of at most max bytes into out. */
int file_read(const char *path, size_t max, struct buf *out);
/* mkdir_mode - create dir (parents must exist) or accept an existing one;
 * 0 or -1. Does not change the mode of an existing directory. */
int mkdir_mode(const char *path, mode_t mode);
/* mkdir_p - create path and missing parents with mode. */
int mkdir_p(const char *path, mode_t mode);

#endif
