/*
 * failalloc.c - an LD_PRELOAD shim that makes the Nth allocation fail.
 *
 *   LD_PRELOAD=tests/.libs/failalloc.so FAILALLOC_N=123 PROGRAM...
 *
 * It interposes malloc, calloc, realloc, reallocarray, free and the
 * aligned allocators, and forwards them to glibc's own (__libc_malloc and
 * friends), so it needs no dlsym() bootstrap.  Nothing is counted until
 * the program arms it: the driver (tests/failalloc_chain.c) looks up
 * failalloc_arm() with dlsym(RTLD_DEFAULT, ...) and calls it right before
 * the code under test, and failalloc_disarm() right after.  Everything
 * else in the process (the C runtime, stdio, the driver's own setup) and
 * every other process (squid, the python servers) is left alone.
 *
 * What is caught, without interposing anything else:
 *   - strdup, strndup, asprintf, getaddrinfo... inside glibc call malloc
 *     through the PLT (glibc supports replacing malloc, and its internal
 *     calls go to the replacement), so they fail when malloc does;
 *   - OpenSSL 3: CRYPTO_malloc/CRYPTO_zalloc/CRYPTO_realloc call malloc,
 *     realloc and free from libcrypto.so through the PLT unless an
 *     application installed its own functions (proxystack does not);
 *   - libltdl and the dynamic loader (dlopen) allocate with malloc too.
 * failalloc_chain --self-test proves the first two in the running
 * process (a strdup and an OPENSSL_malloc armed to fail must return NULL).
 *
 * Controls (environment, read when armed):
 *   FAILALLOC_N      the allocation to fail, counted from 1 at arming;
 *                    0 or unset: fail nothing, only count.  One failure
 *                    only: every later allocation succeeds again.
 *   FAILALLOC_TRACK  1: remember every allocation made while armed that
 *                    is still live, with a short backtrace, so the driver
 *                    can list what a run left behind (failalloc_live).
 *   FAILALLOC_LOG    a file: one line per counted allocation, "N FN SIZE
 *                    FRAME...", frames as "library+0xoffset" (stable from
 *                    one process to the next).  Two such logs, diffed,
 *                    show which allocations only a first run makes.
 *
 * Interface (all optional to use; look them up with dlsym):
 *   void failalloc_arm(long n)       n < 0: take FAILALLOC_N; n >= 0: that
 *   long failalloc_disarm(void)      stop counting; the count
 *   long failalloc_fired(void)       which allocation was failed, 0: none
 *   void failalloc_site(int fd)      backtrace of the failed allocation
 *   long failalloc_live(int fd, int max)  tracked allocations still live;
 *                                    prints up to 'max' of them to fd
 *   void failalloc_forget(void)      drop the tracked set
 *
 * A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) prints, on stdout,
 * the failed allocation's backtrace and the crash's before the default
 * action runs, so a sweep that finds a crash also says where.
 *
 * Not for sanitizer builds: ASan replaces malloc itself.  Under valgrind,
 * pass --soname-synonyms=somalloc=nonexistent.so: by default valgrind
 * takes a preloaded library that defines malloc for the allocator and
 * redirects its functions too, and nothing would ever fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* glibc's own allocator, exported for exactly this use. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

#define EXPORT __attribute__((visibility("default")))
#define SITE_FRAMES 24
#define TRACK_FRAMES 8
#define TRACK_SLOTS (1u << 17)	/* power of two */
#define TOMBSTONE ((void *)1)

/* The public interface (declared here: no header, dlsym finds them). */
EXPORT void failalloc_arm(long n);
EXPORT long failalloc_disarm(void);
EXPORT long failalloc_fired(void);
EXPORT void failalloc_site(int fd);
EXPORT long failalloc_live(int fd, int max);
EXPORT void failalloc_forget(void);

EXPORT void *malloc(size_t size);
EXPORT void *calloc(size_t n, size_t size);
EXPORT void *realloc(void *p, size_t size);
EXPORT void *reallocarray(void *p, size_t n, size_t size);
EXPORT void free(void *p);
EXPORT void *memalign(size_t align, size_t size);
EXPORT void *aligned_alloc(size_t align, size_t size);
EXPORT int posix_memalign(void **out, size_t align, size_t size);
EXPORT void *valloc(size_t size);
EXPORT void *pvalloc(size_t size);

static atomic_int armed;
static atomic_long counter;
static long fail_at;
static atomic_long fired_at;

/* Where the failed allocation came from. */
static void *site[SITE_FRAMES];
static int site_depth;
static const char *site_fn;
static size_t site_size;

/* FAILALLOC_LOG, open while armed. */
static int log_fd = -1;

/* Allocations the shim makes itself (backtrace) are never counted. */
static _Thread_local int in_shim;

/* ------------------------------------------------------------------ */
/* tracking of live allocations made while armed                       */
/* ------------------------------------------------------------------ */

struct slot {
	void *ptr;                 /* NULL: empty, TOMBSTONE: deleted */
	size_t size;
	void *frames[TRACK_FRAMES];
	int depth;
};

static int track_on;
static struct slot *slots;	/* mmap'ed: never through malloc */
static atomic_flag track_lock = ATOMIC_FLAG_INIT;
static atomic_long tracked;	/* live entries */

static void lock(void)
{
	while (atomic_flag_test_and_set_explicit(&track_lock,
						 memory_order_acquire))
		;
}

static void unlock(void)
{
	atomic_flag_clear_explicit(&track_lock, memory_order_release);
}

static size_t slot_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x & (TRACK_SLOTS - 1);
}

static void track_add(void *p, size_t size)
{
	void *frames[TRACK_FRAMES + 2];
	int depth;
	size_t i;

	if (!p || !slots)
		return;
	in_shim++;
	depth = backtrace(frames, TRACK_FRAMES + 2);
	in_shim--;
	lock();
	/* At most half the slots live: a free one is always found. */
	for (i = slot_hash(p);; i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (slots[i].ptr == NULL || slots[i].ptr == TOMBSTONE)
			break;
	}
	if (atomic_load(&tracked) < (long)(TRACK_SLOTS / 2)) {
		slots[i].ptr = p;
		slots[i].size = size;
		/* Frames 0 and 1 are this function and the interposer. */
		slots[i].depth = depth > 2 ? depth - 2 : 0;
		memcpy(slots[i].frames, frames + 2,
		       (size_t)slots[i].depth * sizeof(void *));
		atomic_fetch_add(&tracked, 1);
	}
	unlock();
}

static void track_del(void *p)
{
	size_t i, probes = 0;

	if (!p || !slots || atomic_load(&tracked) == 0)
		return;
	lock();
	/* Deleted slots are never reused as empty: bound the probe. */
	for (i = slot_hash(p); slots[i].ptr != NULL && probes < TRACK_SLOTS;
	     i = (i + 1) & (TRACK_SLOTS - 1), probes++) {
		if (slots[i].ptr == p) {
			slots[i].ptr = TOMBSTONE;
			atomic_fetch_sub(&tracked, 1);
			break;
		}
	}
	unlock();
}

EXPORT void failalloc_forget(void)
{
	if (!slots)
		return;
	lock();
	memset(slots, 0, TRACK_SLOTS * sizeof(*slots));
	atomic_store(&tracked, 0);
	unlock();
}

EXPORT long failalloc_live(int fd, int max)
{
	long n = atomic_load(&tracked);
	char line[128];
	int shown = 0;

	if (!slots || n == 0 || fd < 0)
		return n;
	in_shim++;
	lock();
	for (size_t i = 0; i < TRACK_SLOTS && shown < max; i++) {
		int len;

		if (slots[i].ptr == NULL || slots[i].ptr == TOMBSTONE)
			continue;
		len = snprintf(line, sizeof(line), "live %zu bytes at %p:\n",
			       slots[i].size, slots[i].ptr);
		if (write(fd, line, (size_t)len) < 0)
			break;
		backtrace_symbols_fd(slots[i].frames, slots[i].depth, fd);
		shown++;
	}
	unlock();
	in_shim--;
	return n;
}

/* ------------------------------------------------------------------ */
/* arming and counting                                                 */
/* ------------------------------------------------------------------ */

EXPORT void failalloc_arm(long n)
{
	const char *e;

	if (n < 0) {
		e = getenv("FAILALLOC_N");
		n = e ? strtol(e, NULL, 10) : 0;
	}
	e = getenv("FAILALLOC_TRACK");
	track_on = e && *e == '1';
	if (track_on && !slots) {
		void *m = mmap(NULL, TRACK_SLOTS * sizeof(struct slot),
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		slots = m == MAP_FAILED ? NULL : m;
	}
	failalloc_forget();
	e = getenv("FAILALLOC_LOG");
	if (e && *e && log_fd < 0)
		log_fd = open(e, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
			      O_CLOEXEC, 0644);
	fail_at = n > 0 ? n : 0;
	atomic_store(&fired_at, 0);
	site_depth = 0;
	site_fn = NULL;
	atomic_store(&counter, 0);
	atomic_store(&armed, 1);
}

EXPORT long failalloc_disarm(void)
{
	atomic_store(&armed, 0);
	if (log_fd >= 0) {
		close(log_fd);
		log_fd = -1;
	}
	return atomic_load(&counter);
}

EXPORT long failalloc_fired(void)
{
	return atomic_load(&fired_at);
}

EXPORT void failalloc_site(int fd)
{
	char line[160];
	int len;

	if (!atomic_load(&fired_at))
		return;
	len = snprintf(line, sizeof(line), "failed allocation %ld: %s(%zu),"
		       " called from:\n", atomic_load(&fired_at),
		       site_fn ? site_fn : "?", site_size);
	if (write(fd, line, (size_t)len) < 0)
		return;
	in_shim++;
	backtrace_symbols_fd(site, site_depth, fd);
	in_shim--;
}

/* ------------------------------------------------------------------ */
/* the allocation log                                                  */
/* ------------------------------------------------------------------ */

#define LOG_FRAMES 6

static void log_allocation(long n, const char *fn, size_t size)
{
	void *frames[LOG_FRAMES + 3];
	char line[1024];
	int depth, len;

	in_shim++;
	depth = backtrace(frames, LOG_FRAMES + 3);
	len = snprintf(line, sizeof(line), "%ld %s %zu", n, fn, size);
	/* Frames 0 to 2: this function, should_fail, the interposer. */
	for (int i = 3; i < depth && len < (int)sizeof(line) - 80; i++) {
		Dl_info info;
		const char *name = "?", *slash;
		uintptr_t off = (uintptr_t)frames[i];

		if (dladdr(frames[i], &info) && info.dli_fname) {
			slash = strrchr(info.dli_fname, '/');
			name = slash ? slash + 1 : info.dli_fname;
			off -= (uintptr_t)info.dli_fbase;
		}
		len += snprintf(line + len, sizeof(line) - (size_t)len,
				" %s+%#lx", name, (unsigned long)off);
	}
	line[len++] = '\n';
	if (write(log_fd, line, (size_t)len) < 0)
		log_fd = -1;
	in_shim--;
}

/* Count one allocation; 1 when this one must fail. */
static int should_fail(const char *fn, size_t size)
{
	long n;

	if (!atomic_load_explicit(&armed, memory_order_relaxed) || in_shim)
		return 0;
	n = atomic_fetch_add(&counter, 1) + 1;
	if (log_fd >= 0)
		log_allocation(n, fn, size);
	if (n != fail_at)
		return 0;
	atomic_store(&fired_at, n);
	site_fn = fn;
	site_size = size;
	in_shim++;
	site_depth = backtrace(site, SITE_FRAMES);
	in_shim--;
	return 1;
}

static int tracking(void)
{
	return track_on && !in_shim &&
	       atomic_load_explicit(&armed, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* the interposers                                                     */
/* ------------------------------------------------------------------ */

void *malloc(size_t size)
{
	void *p;

	if (should_fail("malloc", size)) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_malloc(size);
	if (tracking())
		track_add(p, size);
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (should_fail("calloc", n * size)) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_calloc(n, size);
	if (tracking())
		track_add(p, n * size);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p;

	/* realloc(p, 0) frees: not an allocation that can fail. */
	if (size == 0 && old) {
		track_del(old);
		return __libc_realloc(old, 0);
	}
	if (should_fail("realloc", size)) {
		errno = ENOMEM;
		return NULL;	/* 'old' stays valid, as on a real failure */
	}
	p = __libc_realloc(old, size);
	if (p) {
		if (old)
			track_del(old);
		if (tracking())
			track_add(p, size);
	}
	return p;
}

void *reallocarray(void *old, size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n * size);
}

void free(void *p)
{
	if (!p)
		return;
	track_del(p);
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	void *p;

	if (should_fail("memalign", size)) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_memalign(align, size);
	if (tracking())
		track_add(p, size);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t size)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return memalign(page, (size + page - 1) & ~(page - 1));
}

/* ------------------------------------------------------------------ */
/* a crash after a failed allocation says which one                    */
/* ------------------------------------------------------------------ */

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		return;
}

static void on_crash(int sig)
{
	void *frames[SITE_FRAMES];
	char line[96];
	int depth;

	in_shim++;
	snprintf(line, sizeof(line), "# failalloc: signal %d; ", sig);
	say(line);
	if (atomic_load(&fired_at))
		failalloc_site(1);
	else
		say("no allocation had been failed\n");
	say("# the crash, from:\n");
	depth = backtrace(frames, SITE_FRAMES);
	backtrace_symbols_fd(frames, depth, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((constructor)) static void failalloc_init(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	void *frames[2];

	/* Load the unwinder now: its first use dlopens libgcc_s. */
	backtrace(frames, 2);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_crash);
}
