/*
 * preload_track.c - the program's descriptors that proxystack connected:
 * what getpeername() reports for them, their connect state and the errno
 * getsockopt(SO_ERROR) owes the program.
 *
 * close() is not interposed: an entry names the socket by its inode as
 * well as by its number, and an entry whose number now holds another
 * socket (closed, reused, dup2'd over) is dropped when next looked at.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "preload.h"

struct track_entry {
	int fd;
	ino_t ino;
	struct track_info info;
};

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct track_entry *track_entries;
static size_t track_count, track_alloc;
/* Read without the lock: the hooks' fast path when nothing is tracked. */
static atomic_size_t track_live;

static void track_atfork_prepare(void)
{
	pthread_mutex_lock(&track_lock);
}

static void track_atfork_parent(void)
{
	pthread_mutex_unlock(&track_lock);
}

static void track_atfork_child(void)
{
	pthread_mutex_init(&track_lock, NULL);
}

static pthread_once_t track_once = PTHREAD_ONCE_INIT;

static void track_init(void)
{
	pthread_atfork(track_atfork_prepare, track_atfork_parent,
		       track_atfork_child);
}

static struct track_entry *track_find_locked(int fd)
{
	for (size_t i = 0; i < track_count; i++)
		if (track_entries[i].fd == fd)
			return &track_entries[i];
	return NULL;
}

static void track_remove_locked(struct track_entry *e)
{
	*e = track_entries[--track_count];
	atomic_store(&track_live, track_count);
}

int track_add(int fd, ino_t ino, const struct sockaddr *peer,
	      socklen_t peerlen, enum track_state state)
{
	struct track_entry *e;
	int rc = 0;

	pthread_once(&track_once, track_init);
	pthread_mutex_lock(&track_lock);
	e = track_find_locked(fd);
	if (!e && track_count == track_alloc) {
		size_t grown = track_alloc ? track_alloc * 2 : 16;
		struct track_entry *p = realloc(track_entries,
						grown * sizeof(*p));

		if (!p) {
			rc = -1;
			goto out;
		}
		track_entries = p;
		track_alloc = grown;
	}
	if (!e)
		e = &track_entries[track_count++];
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->ino = ino;
	e->info.state = state;
	if (peerlen > sizeof(e->info.peer))
		peerlen = sizeof(e->info.peer);
	memcpy(&e->info.peer, peer, peerlen);
	e->info.peerlen = peerlen;
	atomic_store(&track_live, track_count);
out:
	pthread_mutex_unlock(&track_lock);
	if (rc)
		errno = ENOMEM;
	return rc;
}

void track_finish(int fd, ino_t ino, enum track_state state, int error)
{
	struct track_entry *e;

	pthread_mutex_lock(&track_lock);
	e = track_find_locked(fd);
	if (e && e->ino == ino) {
		e->info.state = state;
		e->info.error = error;
	}
	pthread_mutex_unlock(&track_lock);
}

int track_lookup(int fd, struct track_info *info, int take_error)
{
	struct track_entry *e;
	struct stat st;
	int found = 0;

	if (atomic_load(&track_live) == 0 || fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		st.st_ino = 0;
	pthread_mutex_lock(&track_lock);
	e = track_find_locked(fd);
	if (e && e->ino != st.st_ino) {
		track_remove_locked(e);
		e = NULL;
	}
	if (e) {
		*info = e->info;
		if (take_error)
			e->info.error = 0;
		found = 1;
	}
	pthread_mutex_unlock(&track_lock);
	return found;
}
