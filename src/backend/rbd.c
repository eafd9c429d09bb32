/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The Ceph RBD store (Type=rbd, Path=POOL[/NAMESPACE]/IMAGE): every
 * request goes to librbd's asynchronous C API, and its completion, which
 * librbd runs on one of its own threads, is handed to the submitter's
 * queue with backend_cq_post(). So no thread waits per command and done()
 * runs on the event thread as for every other store.
 *
 * Durability: the librbd caches are forced off (rbd_cache=false,
 * rbd_persistent_cache_mode=disabled after the conf file is read), so librbd
 * acknowledges a write only once the OSDs have it on every replica, as Ceph's
 * documentation of the RBD cache settings says ("If the RBD cache is disabled,
 * ... writes return only when the data is on disk on all replicas"). A FUA
 * write is therefore a plain write, no volatile cache is reported, and FLUSH is
 * librbd's flush (cheap without a cache).
 *
 * Bounded waits: librados waits forever for an OSD or a monitor by
 * default. Unless the conf file sets them, rados_osd_op_timeout and
 * rados_mon_op_timeout are RBD_DEFAULT_TIMEOUT seconds and
 * client_mount_timeout too, so a cluster that stops answering fails the
 * I/O with -ETIMEDOUT (a SCSI error upstream) instead of holding it.
 *
 * Size: librbd tells of a changed header (rbd resize elsewhere) through
 * rbd_update_watch() on its own thread, where calling back into librbd
 * could deadlock; the callback only queues the LU for one refresher
 * thread, which re-reads the size. size() returns that cached value and
 * never blocks an event thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/rbd_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* Seconds an OSD or monitor request may take (unless CephConf says). */
#define RBD_DEFAULT_TIMEOUT 30

/*
 * Connected clusters, under rbd_lock (held while connecting); the
 * refresher's queue under rbd_refresh_lock, which librbd's notification
 * thread takes and must never wait behind a connect.
 */
static pthread_mutex_t rbd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node rbd_clusters = LIST_HEAD_INIT(rbd_clusters);
static pthread_mutex_t rbd_refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rbd_cond = PTHREAD_COND_INITIALIZER;
static struct list_node rbd_stale = LIST_HEAD_INIT(rbd_stale);
static bool rbd_refresher_started;
static struct rbd_lu *rbd_refreshing; /* the LU being re-read, or NULL */

struct rbd_lu *
backend_rbd(struct backend *be)
{
	return be != NULL && be->type == &backend_rbd_ops ? be->priv : NULL;
}

static bool
rbd_str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Set a timeout option to RBD_DEFAULT_TIMEOUT seconds when it still has
 * librados' own default (lib_default: 0, "forever", for the op timeouts,
 * 300 for the mount): another value the conf file sets wins.
 */
static int
rbd_conf_timeout(rados_t r, const char *opt, double lib_default)
{
	char buf[64], val[16];

	if (rados_conf_get(r, opt, buf, sizeof(buf)) == 0 &&
	    strtod(buf, NULL) != lib_default)
		return 0;
	snprintf(val, sizeof(val), "%d", RBD_DEFAULT_TIMEOUT);
	return rados_conf_set(r, opt, val);
}

/* An option's value in seconds, for the log; -1 when unreadable. */
static double
rbd_conf_seconds(rados_t r, const char *opt)
{
	char buf[64];

	return rados_conf_get(r, opt, buf, sizeof(buf)) == 0 ? strtod(buf, NULL)
							     : -1;
}

static void
rbd_cluster_free(struct rbd_cluster *c)
{
	mem_free(c->conf);
	mem_free(c->user);
	mem_free(c->keyring);
	mem_free(c);
}

static int
rbd_cluster_connect(struct rbd_cluster *c, char *why, size_t whylen)
{
	const char *conf = c->conf != NULL ? c->conf : "the default ceph.conf";
	int rc;

	rc = rados_create(&c->rados, c->user);
	if (rc < 0) {
		snprintf(why, whylen, "cannot create a RADOS client %s: %s",
		    c->user, strerror(-rc));
		return rc;
	}
	/* NULL: librados' search ($CEPH_CONF, /etc/ceph/ceph.conf, ...). */
	rc = rados_conf_read_file(c->rados, c->conf);
	if (rc < 0) {
		snprintf(why, whylen, "cannot read %s: %s", conf,
		    strerror(-rc));
		goto fail;
	}
	if ((rc = rbd_conf_timeout(c->rados, "rados_osd_op_timeout", 0)) < 0 ||
	    (rc = rbd_conf_timeout(c->rados, "rados_mon_op_timeout", 0)) < 0 ||
	    (rc = rbd_conf_timeout(c->rados, "client_mount_timeout", 300)) <
		0 ||
	    /*
	     * After the file: no setting of it turns a cache back on, the
	     * in-memory one or the persistent write-back log (which in its
	     * persistent-on-flush mode acknowledges writes it only has in
	     * memory).
	     */
	    (rc = rados_conf_set(c->rados, "rbd_cache", "false")) < 0 ||
	    (rc = rados_conf_set(c->rados, "rbd_persistent_cache_mode",
		 "disabled")) < 0 ||
	    /*
	     * librbd breaking the lock of a holder it finds dead (a write
	     * reaching a gateway in its automatic lock mode) must fence it
	     * too, whatever the file says: else the woken holder's writes
	     * could land.
	     */
	    (rc = rados_conf_set(c->rados, "rbd_blocklist_on_break_lock",
		 "true")) < 0 ||
	    /* librbd queues aio rather than wait in the caller (default). */
	    (rc = rados_conf_set(c->rados, "rbd_non_blocking_aio", "true")) <
		0 ||
	    (c->keyring != NULL &&
		(rc = rados_conf_set(c->rados, "keyring", c->keyring)) < 0)) {
		snprintf(why, whylen, "cannot configure the RADOS client: %s",
		    strerror(-rc));
		goto fail;
	}
	rc = rados_connect(c->rados);
	if (rc < 0) {
		snprintf(why, whylen,
		    "cannot connect to the Ceph cluster of %s as client.%s: %s",
		    conf, c->user, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	rados_shutdown(c->rados);
	return rc;
}

int
rbd_cluster_get(const char *conf, const char *user, const char *keyring,
    bool for_state, struct rbd_cluster **out, char *why, size_t whylen)
{
	struct rbd_cluster *c;
	struct list_node *pos;
	bool fail = false;
	int rc;

	if (user == NULL)
		user = "admin";
	*out = NULL;
	/*
	 * Held while connecting: a second LU of the same cluster waits for
	 * this one to share it rather than open its own.
	 */
	pthread_mutex_lock(&rbd_lock);
	list_for_each(pos, &rbd_clusters) {
		c = list_entry(pos, struct rbd_cluster, node);
		if (rbd_str_eq(c->conf, conf) && strcmp(c->user, user) == 0 &&
		    rbd_str_eq(c->keyring, keyring) &&
		    c->for_state == for_state) {
			c->refs++;
			pthread_mutex_unlock(&rbd_lock);
			*out = c;
			return 0;
		}
	}
	c = mem_zalloc(sizeof(*c));
	if (c != NULL) {
		c->for_state = for_state;
		c->user = mem_strdup(user);
		fail = c->user == NULL;
		if (conf != NULL)
			fail |= (c->conf = mem_strdup(conf)) == NULL;
		if (keyring != NULL)
			fail |= (c->keyring = mem_strdup(keyring)) == NULL;
	}
	if (c == NULL || fail) {
		if (c != NULL)
			rbd_cluster_free(c);
		pthread_mutex_unlock(&rbd_lock);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = rbd_cluster_connect(c, why, whylen);
	if (rc < 0) {
		rbd_cluster_free(c);
		pthread_mutex_unlock(&rbd_lock);
		return rc;
	}
	c->refs = 1;
	c->listed = true;
	list_add_tail(&rbd_clusters, &c->node);
	pthread_mutex_unlock(&rbd_lock);
	log_info("rbd: connected to the Ceph cluster of %s as client.%s%s "
		 "(OSD timeout %.0f s, monitor timeout %.0f s)",
	    conf != NULL ? conf : "the default ceph.conf", user,
	    for_state ? " for the shared reservations" : "",
	    rbd_conf_seconds(c->rados, "rados_osd_op_timeout"),
	    rbd_conf_seconds(c->rados, "rados_mon_op_timeout"));
	*out = c;
	return 0;
}

void
rbd_cluster_put(struct rbd_cluster *c)
{
	bool last;

	if (c == NULL)
		return;
	pthread_mutex_lock(&rbd_lock);
	last = --c->refs == 0;
	if (last && c->listed)
		list_remove(&c->node);
	if (last)
		c->listed = false;
	pthread_mutex_unlock(&rbd_lock);
	if (!last)
		return;
	/* Joins librados' threads; nothing of ours uses the handle now. */
	rados_shutdown(c->rados);
	rbd_cluster_free(c);
}

/* Blocklisted: no LU opened or rejoining from now on shares it. */
static void
rbd_cluster_retire(struct rbd_cluster *c)
{
	pthread_mutex_lock(&rbd_lock);
	if (c->listed)
		list_remove(&c->node);
	c->listed = false;
	pthread_mutex_unlock(&rbd_lock);
}

/*
 * The refresher: re-reads the size of images whose header changed. One
 * thread for all RBD LUs, started with the first watch; rbd_get_size()
 * may wait for an OSD (at most the op timeout), which must not happen on
 * librbd's notification thread or an event thread.
 */
static void *
rbd_refresher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rbd_refresh_lock);
	for (;;) {
		struct rbd_lu *lu;
		uint64_t bytes, old;
		int rc;

		while (list_empty(&rbd_stale))
			pthread_cond_wait(&rbd_cond, &rbd_refresh_lock);
		lu = list_first_entry(&rbd_stale, struct rbd_lu, stale_node);
		list_remove(&lu->stale_node);
		lu->stale = false;
		rbd_refreshing = lu;
		pthread_mutex_unlock(&rbd_refresh_lock);
		/* Dropped (fenced) meanwhile: the reopen reads the size. */
		pthread_rwlock_rdlock(&lu->swap);
		rc = lu->image != NULL ? rbd_get_size(lu->image, &bytes) : 1;
		pthread_rwlock_unlock(&lu->swap);
		if (rc == 1)
			bytes = __atomic_load_n(&lu->size, __ATOMIC_RELAXED);
		old = __atomic_load_n(&lu->size, __ATOMIC_RELAXED);
		if (rc < 0)
			log_warning("rbd: %s/%s: cannot read the image size: "
				    "%s",
			    lu->pool, lu->name, strerror(-rc));
		else if (bytes != old) {
			__atomic_store_n(&lu->size, bytes, __ATOMIC_RELAXED);
			log_notice("rbd: %s/%s: size changed from %llu to %llu "
				   "bytes",
			    lu->pool, lu->name, (unsigned long long)old,
			    (unsigned long long)bytes);
		}
		pthread_mutex_lock(&rbd_refresh_lock);
		rbd_refreshing = NULL;
		pthread_cond_broadcast(&rbd_cond);
	}
	return NULL;
}

/* librbd's thread: the image header changed. Never calls librbd. */
static void
rbd_update_cb(void *arg)
{
	struct rbd_lu *lu = arg;

	pthread_mutex_lock(&rbd_refresh_lock);
	if (!lu->stale) {
		lu->stale = true;
		list_add_tail(&rbd_stale, &lu->stale_node);
		pthread_cond_broadcast(&rbd_cond);
	}
	pthread_mutex_unlock(&rbd_refresh_lock);
}

static int
rbd_refresher_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc = 0;

	pthread_mutex_lock(&rbd_refresh_lock);
	if (!rbd_refresher_started) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = -pthread_create(&t, &attr, rbd_refresher, NULL);
		pthread_attr_destroy(&attr);
		if (rc == 0) {
			pthread_setname_np(t, "rbd-refresh");
			rbd_refresher_started = true;
		}
	}
	pthread_mutex_unlock(&rbd_refresh_lock);
	return rc;
}

/* Split POOL[/NAMESPACE]/IMAGE (the parser checked its form). */
static int
rbd_path_split(struct rbd_lu *lu, const char *path)
{
	const char *a = strchr(path, '/'), *b;

	if (a == NULL)
		return -EINVAL;
	b = strchr(a + 1, '/');
	lu->pool = mem_strndup(path, (size_t)(a - path));
	if (b != NULL) {
		lu->ns = mem_strndup(a + 1, (size_t)(b - a - 1));
		lu->name = mem_strdup(b + 1);
	} else {
		lu->ns = mem_strdup("");
		lu->name = mem_strdup(a + 1);
	}
	if (lu->pool == NULL || lu->ns == NULL || lu->name == NULL)
		return -ENOMEM;
	if (*lu->pool == '\0' || *lu->name == '\0' || strchr(lu->name, '/'))
		return -EINVAL;
	return 0;
}

/*
 * Writer first: event threads submitting back to back on the read side
 * must not starve a drop; they wait only while it swaps a pointer.
 */
static void
rbd_swap_init(pthread_rwlock_t *rw)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(rw, &a);
	pthread_rwlockattr_destroy(&a);
}

static void
rbd_lu_free(struct rbd_lu *lu)
{
	pthread_rwlock_destroy(&lu->swap);
	mem_free(lu->pool);
	mem_free(lu->ns);
	mem_free(lu->name);
	mem_free(lu);
}

/*
 * An image whose metadata turns the librbd cache on (rbd image-meta set
 * IMAGE conf_rbd_cache true) overrides our setting at open: refuse it
 * rather than acknowledge writes that sit in a volatile cache.
 */
static int
rbd_check_cache(struct rbd_lu *lu, rbd_image_t image, char *why, size_t whylen)
{
	rbd_config_option_t opts[512];
	int n = (int)(sizeof(opts) / sizeof(opts[0]));
	int rc = rbd_config_image_list(image, opts, &n);
	bool on = false;

	if (rc < 0) {
		/*
		 * Cannot tell whether the image's metadata turns a cache on
		 * (those settings win over ours): refuse rather than risk
		 * acknowledging writes from memory.
		 */
		snprintf(why, whylen,
		    "cannot read the metadata of image %s/%s to check its "
		    "cache settings: %s",
		    lu->pool, lu->name, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(opts[i].name, "rbd_cache") == 0 &&
		    strcmp(opts[i].value, "false") != 0)
			on = true;
		if (strcmp(opts[i].name, "rbd_persistent_cache_mode") == 0 &&
		    strcmp(opts[i].value, "disabled") != 0)
			on = true;
	}
	rbd_config_image_list_cleanup(opts, n);
	if (on) {
		snprintf(why, whylen,
		    "image %s/%s turns the librbd cache on in its metadata "
		    "(conf_rbd_cache or conf_rbd_persistent_cache_mode); "
		    "remove that with rbd image-meta remove",
		    lu->pool, lu->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Open the image of lu through cluster c and watch it; on success lu's
 * ioctx, image, size and watch are set (image last, under the write side
 * of swap). lu->name etc. must be set. 0, or -errno with one line in why.
 */
static int
rbd_image_attach(struct rbd_lu *lu, struct rbd_cluster *c, char *why,
    size_t whylen)
{
	rados_ioctx_t ioctx;
	rbd_image_t image;
	rbd_image_info_t st;
	uint64_t bytes;
	int rc;

	rc = rados_ioctx_create(c->rados, lu->pool, &ioctx);
	if (rc < 0) {
		snprintf(why, whylen, "%s/%s: cannot use pool %s: %s", lu->pool,
		    lu->name, lu->pool, strerror(-rc));
		return rc;
	}
	rados_ioctx_set_namespace(ioctx, lu->ns);
	rc = lu->read_only ? rbd_open_read_only(ioctx, lu->name, &image, NULL)
			   : rbd_open(ioctx, lu->name, &image, NULL);
	if (rc < 0) {
		snprintf(why, whylen, "cannot open RBD image %s/%s: %s",
		    lu->pool, lu->name, strerror(-rc));
		goto fail_ioctx;
	}
	rc = rbd_check_cache(lu, image, why, whylen);
	if (rc < 0)
		goto fail_image;
	rc = rbd_get_size(image, &bytes);
	if (rc < 0) {
		snprintf(why, whylen,
		    "RBD image %s/%s: cannot read its size: %s", lu->pool,
		    lu->name, strerror(-rc));
		goto fail_image;
	}
	rc = rbd_stat(image, &st, sizeof(st));
	if (rc < 0) {
		snprintf(why, whylen, "RBD image %s/%s: cannot stat it: %s",
		    lu->pool, lu->name, strerror(-rc));
		goto fail_image;
	}
	lu->obj_size = st.obj_size != 0 ? st.obj_size : 1;
	__atomic_store_n(&lu->size, bytes, __ATOMIC_RELAXED);
	rc = rbd_refresher_start();
	if (rc < 0) {
		snprintf(why, whylen, "cannot start the refresher: %s",
		    strerror(-rc));
		goto fail_image;
	}
	/* The image before the watch: its callback may run at once. */
	pthread_rwlock_wrlock(&lu->swap);
	lu->cluster = c;
	lu->ioctx = ioctx;
	lu->image = image;
	pthread_rwlock_unlock(&lu->swap);
	rc = rbd_update_watch(image, &lu->watch_handle, rbd_update_cb, lu);
	if (rc < 0) {
		snprintf(why, whylen,
		    "RBD image %s/%s: cannot watch it for resizes: %s",
		    lu->pool, lu->name, strerror(-rc));
		pthread_rwlock_wrlock(&lu->swap);
		lu->image = NULL;
		pthread_rwlock_unlock(&lu->swap);
		goto fail_image;
	}
	lu->watching = true;
	return 0;
fail_image:
	rbd_close(image);
fail_ioctx:
	rados_ioctx_destroy(ioctx);
	return rc;
}

static int
rbd_open_store(struct backend *be, const struct backend_open_params *p,
    char *why, size_t whylen)
{
	struct rbd_lu *lu;
	int rc;

	if (p->path == NULL) {
		snprintf(why, whylen, "Type=rbd needs Path=POOL/IMAGE");
		return -EINVAL;
	}
	lu = mem_zalloc(sizeof(*lu));
	if (lu == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	lu->be = be;
	list_init(&lu->stale_node);
	rbd_swap_init(&lu->swap);
	rc = rbd_path_split(lu, p->path);
	if (rc < 0) {
		snprintf(why, whylen, "%s: %s", p->path,
		    rc == -ENOMEM ? "out of memory"
				  : "not POOL/IMAGE or POOL/NAMESPACE/IMAGE");
		rbd_lu_free(lu);
		return rc;
	}
	rc = rbd_cluster_get(p->ceph_conf, p->ceph_user, p->ceph_keyring, false,
	    &lu->cluster, why, whylen);
	if (rc < 0) {
		rbd_lu_free(lu);
		return rc;
	}
	lu->read_only = p->read_only;
	lu->serving = true;
	rc = rbd_image_attach(lu, lu->cluster, why, whylen);
	if (rc < 0) {
		rbd_cluster_put(lu->cluster);
		rbd_lu_free(lu);
		return rc;
	}
	be->priv = lu;
	be->path = mem_strdup(p->path);
	be->align = 1;
	be->can_discard = !p->read_only;
	be->discard_zeroes = be->can_discard;
	be->volatile_cache = false;
	be->can_compare_write = !p->read_only;
	return 0;
}

/*
 * Close lu's image and pool context. The image pointer goes first (under
 * the write side of swap: no submit, refresher or resize is inside
 * librbd with it after that); then no watch callback runs after the
 * unwatch returns, the refresher lets go of lu, and rbd_close() waits
 * for the requests of the old handle in flight: their completions reach
 * rbd_io_done() and the submitters' queues before it returns.
 */
static void
rbd_image_detach(struct rbd_lu *lu)
{
	rbd_image_t image;

	pthread_rwlock_wrlock(&lu->swap);
	image = lu->image;
	lu->image = NULL;
	__atomic_store_n(&lu->serving, false, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&lu->swap);
	if (image == NULL)
		return;
	if (lu->watching)
		rbd_update_unwatch(image, lu->watch_handle);
	lu->watching = false;
	pthread_mutex_lock(&rbd_refresh_lock);
	if (lu->stale) {
		list_remove(&lu->stale_node);
		lu->stale = false;
	}
	while (rbd_refreshing == lu)
		pthread_cond_wait(&rbd_cond, &rbd_refresh_lock);
	pthread_mutex_unlock(&rbd_refresh_lock);
	rbd_close(image);
	rados_ioctx_destroy(lu->ioctx);
}

void
rbd_lu_drop(struct rbd_lu *lu)
{
	rbd_image_detach(lu);
	/* Keeps its reference (the conf, id and keyring to reconnect). */
	rbd_cluster_retire(lu->cluster);
}

int
rbd_lu_reopen(struct rbd_lu *lu, char *why, size_t whylen)
{
	struct rbd_cluster *old = lu->cluster, *c;
	int rc;

	if (lu->image != NULL)
		return 0;
	/* Not the retired one: a fresh client, or another LU's fresh one. */
	rc = rbd_cluster_get(old->conf, old->user, old->keyring, false, &c, why,
	    whylen);
	if (rc < 0)
		return rc;
	rc = rbd_image_attach(lu, c, why, whylen);
	if (rc < 0) {
		rbd_cluster_put(c);
		return rc;
	}
	/* The last LU of the fenced client shuts it down. */
	rbd_cluster_put(old);
	return 0;
}

static void
rbd_close_store(struct backend *be)
{
	struct rbd_lu *lu = be->priv;

	if (lu == NULL)
		return;
	/* Its threads and watch use the image's pool and cluster. */
	rbd_state_close(lu);
	/* The SCSI layer drained its own commands. */
	rbd_image_detach(lu);
	rbd_cluster_put(lu->cluster);
	rbd_lu_free(lu);
	be->priv = NULL;
}

static uint64_t
rbd_size(struct backend *be)
{
	struct rbd_lu *lu = be->priv;

	return __atomic_load_n(&lu->size, __ATOMIC_RELAXED);
}

/*
 * ietadm --op update --params Size=BYTES, on the main thread: grows the
 * image (cheap: a header update). Shrinking would drop data, as for
 * fileio; that is `rbd resize --allow-shrink`'s to do.
 */
static int
rbd_resize_store(struct backend *be, uint64_t bytes, char *why, size_t whylen)
{
	struct rbd_lu *lu = be->priv;
	uint64_t old = rbd_size(be);
	int rc;

	if (bytes < old) {
		snprintf(why, whylen,
		    "RBD image %s/%s is %llu bytes: ietd only grows it (shrink "
		    "it with rbd resize --allow-shrink)",
		    lu->pool, lu->name, (unsigned long long)old);
		return -EINVAL;
	}
	if (bytes == old)
		return 0;
	pthread_rwlock_rdlock(&lu->swap);
	rc = lu->image != NULL
	    ? rbd_resize2(lu->image, bytes, false, NULL, NULL)
	    : -ENOTCONN; /* fenced, reconnecting */
	pthread_rwlock_unlock(&lu->swap);
	if (rc < 0) {
		snprintf(why, whylen, "cannot resize RBD image %s/%s: %s",
		    lu->pool, lu->name, strerror(-rc));
		return rc;
	}
	__atomic_store_n(&lu->size, bytes, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Make COMPARE_WRITE's miscompare offset relative to io->offset, as
 * backend.h promises. librbd 16 reports the offset into the compare
 * buffer plus the image offset of the object holding the range (77 for
 * byte 77 of a block in object 0, 4194304 + 511 for byte 511 of a block
 * in object 1, measured), where the documentation suggests an image
 * offset; accept either, and UINT64_MAX (where unknown) otherwise.
 */
static void
rbd_miscompare_rel(const struct rbd_lu *lu, struct backend_io *io)
{
	uint64_t m = io->miscompare_off;
	uint64_t obj = io->offset - io->offset % lu->obj_size;

	if (m >= io->offset && m - io->offset < io->len)
		io->miscompare_off = m - io->offset;
	else if (m >= obj && m - obj < io->len)
		io->miscompare_off = m - obj;
	else if (m >= io->len)
		io->miscompare_off = UINT64_MAX;
}

/* librbd's thread: hand the result to the submitter's queue. */
static void
rbd_io_done(rbd_completion_t c, void *arg)
{
	struct backend_io *io = arg;
	ssize_t r = rbd_aio_get_return_value(c);

	if (r == -EILSEQ && io->op == BACKEND_OP_COMPARE_WRITE)
		rbd_miscompare_rel(io->be->priv, io);

	rbd_aio_release(c);
	if (r == -EROFS)
		/*
		 * librbd refuses because another gateway holds the image's
		 * exclusive lock: not a read-only medium (backend.h).
		 */
		io->result = -ENOLCK;
	else if (r < 0)
		io->result = (int)r;
	else if (io->op == BACKEND_OP_READ && (uint64_t)r != io->len)
		io->result = -EIO; /* inside the image a read is whole */
	else
		io->result = 0;
	backend_cq_post(io->cq, io);
}

static void
rbd_submit(struct backend *be, struct backend_io *io)
{
	struct rbd_lu *lu = be->priv;
	rbd_completion_t c;
	int rc;

	rc = rbd_aio_create_completion(io, rbd_io_done, &c);
	if (rc < 0) {
		io->result = rc;
		backend_cq_push(io->cq, io);
		return;
	}
	/*
	 * The read side across the submission only (rbd_non_blocking_aio:
	 * librbd queues, it does not wait): a rejoin cannot close the image
	 * under us, and once it dropped it we fail at once with -ENOTCONN
	 * (the SCSI layer answers that as the unavailable port it is).
	 */
	pthread_rwlock_rdlock(&lu->swap);
	if (lu->image == NULL ||
	    !__atomic_load_n(&lu->serving, __ATOMIC_ACQUIRE)) {
		pthread_rwlock_unlock(&lu->swap);
		rbd_aio_release(c);
		io->result = -ENOTCONN;
		backend_cq_push(io->cq, io);
		return;
	}
	switch (io->op) {
	case BACKEND_OP_READ:
		rc = rbd_aio_readv(lu->image, io->iov, io->iovcnt, io->offset,
		    c);
		break;
	case BACKEND_OP_WRITE:
		/* FUA needs nothing more: no cache (see the top). */
		rc = rbd_aio_writev(lu->image, io->iov, io->iovcnt, io->offset,
		    c);
		break;
	case BACKEND_OP_FLUSH:
		rc = rbd_aio_flush(lu->image, c);
		break;
	case BACKEND_OP_DISCARD:
	case BACKEND_OP_WRITE_ZEROES:
		/*
		 * Not rbd_aio_discard(): by default (rbd_skip_partial_discard)
		 * it leaves the partial objects of a range as they were. Write
		 * zeroes frees whole objects and zeroes the rest, so a
		 * discarded range reads back as zeros, as we report.
		 */
		rc = rbd_aio_write_zeroes(lu->image, io->offset, io->len, c, 0,
		    0);
		break;
	case BACKEND_OP_COMPARE_WRITE:
		/*
		 * The OSD compares and writes in one operation (cmpext + write
		 * of the object), so the result holds against every gateway
		 * and client of the image, not only this process. The range is
		 * one logical block (sbc.c), never across an object. librbd
		 * gives the first difference as an offset into the range.
		 */
		rc = (int)rbd_aio_compare_and_write(lu->image, io->offset,
		    io->len, io->iov[0].iov_base,
		    (const char *)io->iov[0].iov_base + io->len, c,
		    &io->miscompare_off, 0);
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
	pthread_rwlock_unlock(&lu->swap);
	if (rc < 0) {
		rbd_aio_release(c);
		io->result = rc;
		backend_cq_push(io->cq, io);
	}
}

const struct backend_ops backend_rbd_ops = {
    .name = "rbd",
    .open = rbd_open_store,
    .close = rbd_close_store,
    .size = rbd_size,
    .resize = rbd_resize_store,
    .submit = rbd_submit,
    .state = &backend_rbd_state_ops,
};
