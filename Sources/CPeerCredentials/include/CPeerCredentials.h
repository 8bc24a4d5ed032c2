// Who is on the other end of a Unix socket, through Linux's SO_PEERCRED and the real `struct ucred`
// (which Glibc's Swift module does not export), so that Swift never assumes the struct's layout.
#pragma once
#include <sys/types.h>

/// Fills pid, uid and gid of the peer of the connected Unix socket `fd`; returns 0, or -1 with errno set.
int billing_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
