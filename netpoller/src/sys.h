// sys.h: the socket system calls the netpoller makes, returning -errno on failure.
//
// They never touch errno and never call into libc on the segmented-stack build: there,
// gold would give every split-stack function that names a libc symbol a ~1 MiB stack
// segment (runtime/src/leaf.h), so they go through the runtime's non-split syscall
// pointer. Other builds call libc, so that ASan and TSan see every buffer and fd.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "leaf.h"

namespace weft::net::sys {

#if WEFT_SPLIT_STACK
inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return weft::detail::leaf_syscall6_neg(n, a, b, c, d, e, f);
}
#define WEFT_L(x) reinterpret_cast<long>(x)
inline long read(int fd, void* p, size_t n) { return raw(SYS_read, fd, WEFT_L(p), long(n)); }
inline long readv(int fd, const iovec* v, int n) { return raw(SYS_readv, fd, WEFT_L(v), n); }
inline long send(int fd, const void* p, size_t n, int flags) {
  return raw(SYS_sendto, fd, WEFT_L(p), long(n), flags, 0, 0);
}
inline long recv(int fd, void* p, size_t n, int flags) {
  return raw(SYS_recvfrom, fd, WEFT_L(p), long(n), flags, 0, 0);
}
inline long sendmsg(int fd, const msghdr* m, int flags) {
  return raw(SYS_sendmsg, fd, WEFT_L(m), flags);
}
inline long close(int fd) { return raw(SYS_close, fd); }
inline long socket(int d, int t, int p) { return raw(SYS_socket, d, t, p); }
inline long socketpair(int d, int t, int p, int sv[2]) {
  return raw(SYS_socketpair, d, t, p, WEFT_L(sv));
}
inline long bind(int fd, const sockaddr* a, socklen_t l) { return raw(SYS_bind, fd, WEFT_L(a), l); }
inline long listen(int fd, int backlog) { return raw(SYS_listen, fd, backlog); }
inline long accept4(int fd, sockaddr* a, socklen_t* l, int flags) {
  return raw(SYS_accept4, fd, WEFT_L(a), WEFT_L(l), flags);
}
inline long connect(int fd, const sockaddr* a, socklen_t l) {
  return raw(SYS_connect, fd, WEFT_L(a), l);
}
inline long shutdown(int fd, int how) { return raw(SYS_shutdown, fd, how); }
inline long setsockopt(int fd, int level, int opt, const void* v, socklen_t l) {
  return raw(SYS_setsockopt, fd, level, opt, WEFT_L(v), l);
}
inline long getsockopt(int fd, int level, int opt, void* v, socklen_t* l) {
  return raw(SYS_getsockopt, fd, level, opt, WEFT_L(v), WEFT_L(l));
}
inline long getsockname(int fd, sockaddr* a, socklen_t* l) {
  return raw(SYS_getsockname, fd, WEFT_L(a), WEFT_L(l));
}
inline long getpeername(int fd, sockaddr* a, socklen_t* l) {
  return raw(SYS_getpeername, fd, WEFT_L(a), WEFT_L(l));
}
#undef WEFT_L
#else
inline long ret(long r) { return r < 0 ? -errno : r; }
inline long read(int fd, void* p, size_t n) { return ret(::read(fd, p, n)); }
inline long readv(int fd, const iovec* v, int n) { return ret(::readv(fd, v, n)); }
inline long send(int fd, const void* p, size_t n, int flags) {
  return ret(::send(fd, p, n, flags));
}
inline long recv(int fd, void* p, size_t n, int flags) { return ret(::recv(fd, p, n, flags)); }
inline long sendmsg(int fd, const msghdr* m, int flags) { return ret(::sendmsg(fd, m, flags)); }
inline long close(int fd) { return ret(::close(fd)); }
inline long socket(int d, int t, int p) { return ret(::socket(d, t, p)); }
inline long socketpair(int d, int t, int p, int sv[2]) { return ret(::socketpair(d, t, p, sv)); }
inline long bind(int fd, const sockaddr* a, socklen_t l) { return ret(::bind(fd, a, l)); }
inline long listen(int fd, int backlog) { return ret(::listen(fd, backlog)); }
inline long accept4(int fd, sockaddr* a, socklen_t* l, int flags) {
  return ret(::accept4(fd, a, l, flags));
}
inline long connect(int fd, const sockaddr* a, socklen_t l) { return ret(::connect(fd, a, l)); }
inline long shutdown(int fd, int how) { return ret(::shutdown(fd, how)); }
inline long setsockopt(int fd, int level, int opt, const void* v, socklen_t l) {
  return ret(::setsockopt(fd, level, opt, v, l));
}
inline long getsockopt(int fd, int level, int opt, void* v, socklen_t* l) {
  return ret(::getsockopt(fd, level, opt, v, l));
}
inline long getsockname(int fd, sockaddr* a, socklen_t* l) { return ret(::getsockname(fd, a, l)); }
inline long getpeername(int fd, sockaddr* a, socklen_t* l) { return ret(::getpeername(fd, a, l)); }
#endif

}  // namespace weft::net::sys
