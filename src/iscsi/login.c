/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * The login phase (RFC 7143 6.3): security stage (None or CHAP through
 * chap.c), operational stage (param.c), transit to full feature phase;
 * text continued over several PDUs both ways (C bit); new sessions,
 * session reinstatement (same initiator name and ISID) and connection
 * reinstatement (same TSIH and CID). Each refusal carries its own status
 * class and detail (RFC 7143 11.13.5) and one log line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/be.h"
#include "util/log.h"
#include "config/allow.h"
#include "isns/isns.h"
#include "target/target.h"
#include "chap.h"
#include "iscsi_int.h"
#include "text.h"

#define LOGIN_SECRET_MAX 256
/* A refusal naming a peer string: room for it escaped, and the reason. */
#define LOGIN_WHY_MAX (ISCSI_NAME_MAX + 192)

struct iscsi_login {
	bool started;
	uint8_t isid[ISCSI_ISID_LEN];
	uint16_t tpgt; /* the portal group this connection came in on */
	uint16_t tsih;
	uint16_t cid;
	uint32_t cmdsn;
	bool discovery;
	char initiator[ISCSI_NAME_MAX];  /* valid, folded to lower case */
	char alias[ISCSI_ALIAS_MAX + 1]; /* InitiatorAlias, raw */
	struct target *target;
	bool auth_needed, auth_chap, auth_done, auth_seen;
	bool skipped_security;
	struct chap_ctx *chap;
	struct param_neg neg;
	struct param_set offer, result;
	bool declared; /* our MaxRecvDataSegmentLength sent */
	bool first_rsp_sent;
	char *in; /* request text continued with C */
	size_t in_len;
	char *out; /* response text not yet sent */
	size_t out_len, out_off;
	uint8_t out_flags;       /* T/CSG/NSG of the continued response */
	char why[LOGIN_WHY_MAX]; /* a refusal's reason built at run time */
	/* Login Requests so far (ISCSI_LOGIN_PDUS_MAX). */
	unsigned int npdus;
};

int
login_start(struct iscsi_conn *conn)
{
	conn->login = mem_zalloc(sizeof(struct iscsi_login));
	return conn->login != NULL ? 0 : -ENOMEM;
}

void
login_free(struct iscsi_conn *conn)
{
	struct iscsi_login *l = conn->login;

	if (l == NULL)
		return;
	if (l->target != NULL)
		target_put(l->target);
	if (l->chap != NULL)
		chap_ctx_free(l->chap);
	mem_free(l->in);
	mem_free(l->out);
	mem_free(l);
	conn->login = NULL;
}

static int
login_send(struct iscsi_conn *conn, const uint8_t *req, uint8_t flags,
    uint16_t status, const char *text, uint32_t len)
{
	struct iscsi_login *l = conn->login;
	uint8_t rsp[ISCSI_BHS_LEN] = {0};
	void *copy = NULL;

	rsp[BHS_OPCODE] = ISCSI_OP_LOGIN_RSP;
	rsp[BHS_FLAGS] = flags;
	rsp[LOGIN_VERSION_MAX] = ISCSI_VERSION;
	rsp[LOGIN_VERSION_MIN] = ISCSI_VERSION;
	memcpy(rsp + LOGIN_ISID, req + LOGIN_ISID, ISCSI_ISID_LEN);
	put_be16(rsp + LOGIN_TSIH, l->tsih);
	memcpy(rsp + BHS_ITT, req + BHS_ITT, 4);
	put_be32(rsp + BHS_STATSN, conn->statsn++);
	put_be32(rsp + BHS_EXP_CMDSN, l->cmdsn);
	put_be32(rsp + BHS_MAX_CMDSN, l->cmdsn);
	rsp[LOGIN_STATUS_CLASS] = (uint8_t)(status >> 8);
	rsp[LOGIN_STATUS_DETAIL] = (uint8_t)status;
	if (len > 0) {
		copy = mem_alloc(len);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, text, len);
	}
	if (conn->session != NULL) {
		put_be32(rsp + BHS_EXP_CMDSN, conn->session->exp_cmdsn);
		put_be32(rsp + BHS_MAX_CMDSN, conn->session->max_cmdsn);
	}
	return pdu_tx(conn, rsp, copy, len, copy, NULL);
}

static int
login_fail(struct iscsi_conn *conn, const uint8_t *req, uint16_t status,
    const char *why)
{
	const char *who =
	    conn->initiator[0] != '\0' ? conn->initiator : conn->peer_str;

	conn_log(conn, LOG_NOTICE, "login by %s failed: %s (0x%04x)", who, why,
	    status);
	stats_login_refused(status,
	    conn->login != NULL ? conn->login->target : NULL);
	(void)login_send(conn, req, 0, status, NULL, 0);
	conn_close_after_tx(conn);
	return 0;
}

static bool
login_secret(void *arg, const char *user, char *secret, size_t len)
{
	struct iscsi_login *l = arg;

	return target_incoming_secret(l->target, user, secret, len);
}

static bool
login_list_has(const char *value, const char *want)
{
	size_t wl = strlen(want);

	while (*value != '\0') {
		size_t n = strcspn(value, ",");

		if (n == wl && strncmp(value, want, n) == 0)
			return true;
		value += n;
		if (*value == ',')
			value++;
	}
	return false;
}

/*
 * RFC 7143 6.3.5: the live session this login replaces, if any.
 *   TSIH non-zero: connection reinstatement. Without MC/S the session's
 *     one connection (same CID) is replaced, and with it the session.
 *   TSIH zero: session reinstatement of the session with the same
 *     InitiatorName and ISID, i.e. the same I_T nexus (RFC 7143 4.4.1).
 * Both look only at sessions of the target this login authenticated to:
 * a session is an I_T nexus of one target, and the rights proven here
 * say nothing about another target's sessions. Called with the session
 * table lock held, the same hold that inserts the new session, so two
 * logins racing on two event threads cannot both miss each other.
 */
static uint16_t
login_reinstate_find(const struct iscsi_login *l, struct iscsi_session **oldp,
    const char **why)
{
	struct iscsi_session *old;

	*oldp = NULL;
	if (l->tsih == 0) {
		if (!l->discovery)
			*oldp = session_find_isid(l->initiator, l->isid,
			    l->target, l->tpgt);
		return LOGIN_OK;
	}
	old = session_find_tsih(l->tsih);
	if (old == NULL || old->discovery != l->discovery ||
	    old->target != l->target || old->tpgt != l->tpgt ||
	    memcmp(old->isid, l->isid, ISCSI_ISID_LEN) != 0 ||
	    strcasecmp(old->initiator, l->initiator) != 0) {
		/* One answer whatever differs: nothing is learnt of others. */
		*why = "session does not exist";
		return LOGIN_ERR_SESSION_NOT_FOUND;
	}
	if (old->conn != NULL && old->conn->cid != l->cid) {
		/* XXX: MC/S (MaxConnections > 1) not implemented. */
		*why = "too many connections";
		return LOGIN_ERR_TOO_MANY_CONNECTIONS;
	}
	*oldp = old;
	return LOGIN_OK;
}

/*
 * RFC 7143 6.3.5: a TSIH that names no session of this target (or no
 * discovery session), initiator and ISID is refused at once. Nothing is
 * replaced here: login_finish() asks again, after authentication, under
 * the lock that inserts the new session.
 */
static uint16_t
login_tsih_check(const struct iscsi_login *l, const char **why)
{
	struct iscsi_session *old;
	uint16_t rc;

	if (l->tsih == 0)
		return LOGIN_OK;
	session_table_lock();
	rc = login_reinstate_find(l, &old, why);
	session_table_unlock();
	return rc;
}

/*
 * InitiatorName and TargetName must be iSCSI names (RFC 7143 4.2.7):
 * they end up in the session status file, the log and SCSI TransportIDs,
 * where a newline or a stray byte would forge or break lines. RFC 7143
 * 11.13.5 names these two keys as its example of 0x0207 (missing
 * parameter), the answer for a name that is not usable.
 */
static bool
login_name_ok(struct iscsi_login *l, const char *key, const char *value,
    const char **why)
{
	const char *bad = str_iscsi_name_check(value);
	char show[ISCSI_NAME_MAX];

	if (bad == NULL)
		return true;
	str_escape(show, sizeof(show), value, strlen(value));
	snprintf(l->why, sizeof(l->why),
	    "%s \"%s\" is not a valid iSCSI name: %s", key, show, bad);
	*why = l->why;
	return false;
}

/* The first Login Request: who is it, for what, is it allowed. */
static int
login_first(struct iscsi_conn *conn, const uint8_t *req,
    const struct text_list *kv, const char **why)
{
	struct iscsi_login *l = conn->login;
	const struct allow_paths *ap = target_allow_paths();
	const char *name, *type, *tname;

	/* RFC 7143 11.12.4: we speak version 0x00 only. */
	if (req[LOGIN_VERSION_MIN] > ISCSI_VERSION) {
		*why = "unsupported version";
		return LOGIN_ERR_UNSUPPORTED_VERSION;
	}
	memcpy(l->isid, req + LOGIN_ISID, ISCSI_ISID_LEN);
	l->tsih = get_be16(req + LOGIN_TSIH);
	l->cid = get_be16(req + LOGIN_CID);
	l->cmdsn = get_be32(req + BHS_CMDSN);
	conn->statsn = get_be32(req + BHS_EXP_STATSN);
	conn->cid = l->cid;

	name = text_find(kv, "InitiatorName");
	if (name == NULL || name[0] == '\0') {
		*why = "no InitiatorName";
		return LOGIN_ERR_MISSING_PARAMETER;
	}
	if (!login_name_ok(l, "InitiatorName", name, why))
		return LOGIN_ERR_MISSING_PARAMETER;
	snprintf(l->initiator, sizeof(l->initiator), "%s", name);
	str_lower(l->initiator);
	snprintf(conn->initiator, sizeof(conn->initiator), "%s", l->initiator);
	type = text_find(kv, "SessionType");
	if (type == NULL || strcmp(type, "Normal") == 0) {
		l->discovery = false;
	} else if (strcmp(type, "Discovery") == 0) {
		l->discovery = true;
	} else {
		*why = "unknown SessionType";
		return LOGIN_ERR_SESSION_TYPE;
	}
	if (iscsi_is_shutting_down()) {
		*why = "shutting down";
		return LOGIN_ERR_SERVICE_UNAVAILABLE;
	}
	if (l->discovery) {
		l->auth_needed = target_needs_chap(NULL);
		param_offers(&l->offer, NULL);
		param_defaults(&l->result);
		l->neg.discovery = true;
		return login_tsih_check(l, why);
	}
	tname = text_find(kv, "TargetName");
	if (tname == NULL || tname[0] == '\0') {
		*why = "no TargetName";
		return LOGIN_ERR_MISSING_PARAMETER;
	}
	if (!login_name_ok(l, "TargetName", tname, why))
		return LOGIN_ERR_MISSING_PARAMETER;
	l->target = target_find_by_name(tname);
	if (l->target == NULL) {
		*why = "target not found";
		return LOGIN_ERR_TARGET_NOT_FOUND;
	}
	if (target_is_removing(l->target)) {
		*why = "target being removed";
		return LOGIN_ERR_TARGET_REMOVED;
	}
	/*
	 * ALUA: a target is offered only on the portal groups ietd.conf
	 * names for it; the session is an I_T nexus with the target port
	 * of this portal group (RFC 7143 4.4.1: name + TPGT).
	 */
	l->tpgt = iscsi_portal_tag(&conn->local);
	if (!target_port_offered(l->target, l->tpgt)) {
		*why = "target not offered on this portal group";
		return LOGIN_ERR_TARGET_NOT_FOUND;
	}
	tname = target_name(l->target);
	if (!allow_initiator(ap, tname, l->initiator,
		(const struct sockaddr *)&conn->peer) ||
	    !allow_target_portal(ap, tname,
		(const struct sockaddr *)&conn->local)) {
		int err = allow_last_errno();

		/* Out of descriptors or memory is not a verdict: retry. */
		if (err == EMFILE || err == ENFILE || err == ENOMEM) {
			*why = "cannot read the access files now";
			return LOGIN_ERR_OUT_OF_RESOURCES;
		}
		*why = "not authorized";
		return LOGIN_ERR_NOT_AUTHORIZED;
	}
	/* iSNSAccessControl: the server's discovery domains (isns.h). */
	if (!isns_allow(tname, l->initiator)) {
		*why = "not in a discovery domain with the target (iSNS)";
		return LOGIN_ERR_NOT_AUTHORIZED;
	}
	l->auth_needed = target_needs_chap(l->target);
	param_offers(&l->offer, l->target);
	param_defaults(&l->result);
	return login_tsih_check(l, why);
}

/* Security stage keys: AuthMethod and the CHAP exchange. */
static uint16_t
login_security(struct iscsi_conn *conn, const struct text_list *kv,
    struct strbuf *out, const char **why)
{
	struct iscsi_login *l = conn->login;
	const char *am = text_find(kv, "AuthMethod");

	log_debug(1, "Login request (security negotiation): %d", conn->state);
	/* Per thread: logins on other event threads fill their own. */
	static __thread char chapwhy[128];
	char ouser[LOGIN_SECRET_MAX], osecret[LOGIN_SECRET_MAX];
	bool have_out;
	enum chap_result cr;

	if (am != NULL && !l->auth_seen) {
		l->auth_seen = true;
		if (l->auth_needed && login_list_has(am, "CHAP")) {
			l->auth_chap = true;
			text_put(out, "AuthMethod", "CHAP");
		} else if (!l->auth_needed && login_list_has(am, "None")) {
			l->auth_done = true;
			text_put(out, "AuthMethod", "None");
		} else {
			text_put(out, "AuthMethod", "Reject");
			*why = "no acceptable AuthMethod";
			return LOGIN_ERR_AUTH_FAILED;
		}
	}
	if (!l->auth_chap || l->auth_done)
		return LOGIN_OK;
	if (text_find(kv, "CHAP_A") == NULL &&
	    text_find(kv, "CHAP_N") == NULL && text_find(kv, "CHAP_R") == NULL)
		return LOGIN_OK;
	if (l->chap == NULL) {
		l->chap = chap_ctx_new();
		if (l->chap == NULL) {
			*why = "out of memory";
			return LOGIN_ERR_OUT_OF_RESOURCES;
		}
	}
	have_out = target_outgoing_account(l->target, ouser, sizeof(ouser),
	    osecret, sizeof(osecret));
	chapwhy[0] = '\0';
	cr = chap_step(l->chap, kv, out, login_secret, l,
	    have_out ? ouser : NULL, have_out ? osecret : NULL, chapwhy,
	    sizeof(chapwhy));
	memset(osecret, 0, sizeof(osecret));
	switch (cr) {
	case CHAP_CONTINUE:
		return LOGIN_OK;
	case CHAP_DONE:
		l->auth_done = true;
		return LOGIN_OK;
	case CHAP_FAIL_AUTH:
		*why = chapwhy[0] != '\0' ? chapwhy : "CHAP failed";
		return LOGIN_ERR_AUTH_FAILED;
	case CHAP_FAIL_PROTO:
		break;
	}
	*why = chapwhy[0] != '\0' ? chapwhy : "bad CHAP keys";
	return LOGIN_ERR_MISSING_PARAMETER;
}

/* Negotiate every operational key of the PDU. */
static uint16_t
login_operational(struct iscsi_conn *conn, const struct text_list *kv,
    struct strbuf *out, const char **why)
{
	struct iscsi_login *l = conn->login;
	uint16_t status = LOGIN_OK;

	log_debug(1, "Login request (operational negotiation): %d",
	    conn->state);

	for (unsigned int i = 0; i < kv->n; i++) {
		const char *k = kv->kv[i].key;

		if (strncmp(k, "CHAP_", 5) == 0)
			continue;
		if (param_negotiate(&l->neg, &l->offer, &l->result, k,
			kv->kv[i].value, out, &status) == PARAM_FAIL) {
			*why = status == LOGIN_ERR_MISSING_PARAMETER
			    ? "key offered twice"
			    : "bad operational key";
			return status;
		}
	}
	return LOGIN_OK;
}

/*
 * A digest the target insists on (HeaderDigest CRC32C without None) must
 * be in force before full feature phase. An initiator that offered only
 * None got "Reject" (RFC 7143 6.2.1), which leaves the default None; such
 * a session would run without the protection the administrator asked
 * for, so the login fails instead.
 */
static bool
login_digests_ok(const struct iscsi_login *l)
{
	static const enum param_key keys[] = {PARAM_HEADER_DIGEST,
	    PARAM_DATA_DIGEST};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((l->offer.v[keys[i]] & (1u << l->result.v[keys[i]])) == 0)
			return false;
	}
	return true;
}

/* Become a session in full feature phase (RFC 7143 6.3.6). */
static uint16_t
login_finish(struct iscsi_conn *conn, const char **why)
{
	struct iscsi_login *l = conn->login;
	struct iscsi_session *s, *old;
	uint16_t status;
	int rc;

	/*
	 * A new session would only add to a full data budget: refuse it
	 * (RFC 7143 11.13.5, 0x0302) and let the initiator retry later.
	 */
	if (l->target != NULL && iscsi_data_budget_low()) {
		*why = "in-flight data at its cap";
		return LOGIN_ERR_OUT_OF_RESOURCES;
	}
	s = session_new();
	if (s == NULL) {
		*why = "out of memory";
		return LOGIN_ERR_OUT_OF_RESOURCES;
	}
	param_finish(&l->result);
	s->params = l->result;
	s->discovery = l->discovery;
	memcpy(s->isid, l->isid, ISCSI_ISID_LEN);
	s->tpgt = l->tpgt;
	snprintf(s->initiator, sizeof(s->initiator), "%s", l->initiator);
	snprintf(s->alias, sizeof(s->alias), "%s", l->alias);
	s->exp_cmdsn = l->cmdsn;
	s->queued = l->target != NULL
	    ? target_param(l->target, CONF_KEY_QUEUED_COMMANDS)
	    : conf_key_defs[CONF_KEY_QUEUED_COMMANDS].def;
	s->max_cmdsn = l->cmdsn + s->queued - 1;

	session_table_lock();
	status = login_reinstate_find(l, &old, why);
	if (status != LOGIN_OK) {
		session_table_unlock();
		mem_free(s);
		return status;
	}
	if (old != NULL) {
		/* The old session stops counting against MaxSessions now. */
		conn_log(conn, LOG_INFO,
		    "%s reinstatement: closing session %#llx",
		    l->tsih != 0 ? "connection" : "session",
		    (unsigned long long)old->sid);
		session_kill_remote(old);
	}
	if (l->target != NULL) {
		rc = target_session_add(l->target);
		if (rc != 0) {
			session_table_unlock();
			mem_free(s);
			*why = rc == -EBUSY ? "MaxSessions reached"
					    : "target being removed";
			return rc == -EBUSY ? LOGIN_ERR_OUT_OF_RESOURCES
					    : LOGIN_ERR_TARGET_REMOVED;
		}
		s->target = l->target;
		s->target_counted = true;
		l->target = NULL;
	}
	rc = session_insert(s, l->tsih);
	if (rc != 0) {
		session_table_unlock();
		session_free(s);
		*why = rc == -EBUSY ? "no free TSIH" : "TSIH in use";
		return LOGIN_ERR_OUT_OF_RESOURCES;
	}
	/* Bound before the lock goes: a racing reinstatement may kill it. */
	s->conn = conn;
	conn->session = s;
	session_table_unlock();
	l->tsih = s->tsih;
	if (!s->discovery) {
		/*
		 * A fresh id for every session, never the sid: a reinstated
		 * connection keeps its TSIH, hence its sid, and the old
		 * session's teardown (on its own thread, later) forgets its
		 * nexus id's unit attentions and reservations (SPC-4 5.13).
		 */
		s->nexus.id = scsi_nexus_id_new();
		snprintf(s->nexus.initiator_port,
		    sizeof(s->nexus.initiator_port),
		    "%s,i,0x%02x%02x%02x%02x%02x%02x", s->initiator, s->isid[0],
		    s->isid[1], s->isid[2], s->isid[3], s->isid[4], s->isid[5]);
		snprintf(s->nexus.target_port, sizeof(s->nexus.target_port),
		    "%s,t,0x%04x", target_name(s->target), l->tpgt);
		if (target_port_bind(s->target, l->tpgt, &s->nexus) != 0) {
			/* A reload took the target off this portal group. */
			*why = "target not offered on this portal group";
			return LOGIN_ERR_TARGET_NOT_FOUND;
		}
		if (scsi_nexus_register(&s->nexus) != 0) {
			/* Cannot happen: ids are never reused. */
			scsi_tpg_put(s->nexus.tpg);
			s->nexus.tpg = NULL;
			*why = "I_T nexus id in use";
			return LOGIN_ERR_TARGET_ERROR;
		}
		s->nexus_registered = true;
	}
	return LOGIN_OK;
}

/* Send the next piece of a response too long for one PDU. */
static int
login_send_more(struct iscsi_conn *conn, const uint8_t *req)
{
	struct iscsi_login *l = conn->login;
	size_t left = l->out_len - l->out_off;
	bool more = left > conn->max_xmit_dsl;
	size_t n = more ? conn->max_xmit_dsl : left;
	uint8_t flags = l->out_flags;
	int rc;

	if (more)
		flags = (uint8_t)((flags & ~LOGIN_FLAG_TRANSIT) |
		    LOGIN_FLAG_CONTINUE);
	rc = login_send(conn, req, flags, LOGIN_OK, l->out + l->out_off,
	    (uint32_t)n);
	l->out_off += n;
	if (l->out_off == l->out_len) {
		mem_free(l->out);
		l->out = NULL;
		l->out_len = l->out_off = 0;
	}
	return rc;
}

static int
login_enter_ffp(struct iscsi_conn *conn)
{
	struct iscsi_session *s = conn->session;
	uint32_t mx;

	conn_log(conn, LOG_INFO, "succesfull login by %s%s", conn->initiator,
	    s->discovery ? " (discovery)" : "");
	/* Digests start with the first PDU after the Login Response. */
	conn->hdigest = s->params.v[PARAM_HEADER_DIGEST] == PARAM_DIGEST_CRC32C;
	conn->ddigest = s->params.v[PARAM_DATA_DIGEST] == PARAM_DIGEST_CRC32C;
	conn->max_recv_dsl = s->target != NULL
	    ? target_param(s->target, CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH)
	    : ISCSI_LOGIN_DSL_MAX;
	mx = s->params.v[PARAM_MAX_RECV_DSL];
	if (s->target != NULL &&
	    target_param(s->target, CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH) < mx)
		mx = target_param(s->target,
		    CONF_KEY_MAX_XMIT_DATA_SEGMENT_LENGTH);
	conn->max_xmit_dsl = mx;
	conn->state = CONN_S_FFP;
	conn_dbg(conn, 1,
	    "full feature phase: HeaderDigest=%s DataDigest=%s "
	    "MaxRecvDataSegmentLength=%u MaxXmitDataSegmentLength=%u "
	    "MaxBurstLength=%u FirstBurstLength=%u InitialR2T=%u "
	    "ImmediateData=%u",
	    param_digest_name(s->params.v[PARAM_HEADER_DIGEST]),
	    param_digest_name(s->params.v[PARAM_DATA_DIGEST]),
	    conn->max_recv_dsl, conn->max_xmit_dsl,
	    s->params.v[PARAM_MAX_BURST_LENGTH],
	    s->params.v[PARAM_FIRST_BURST_LENGTH],
	    s->params.v[PARAM_INITIAL_R2T], s->params.v[PARAM_IMMEDIATE_DATA]);
	login_free(conn);
	nop_start(conn);
	return 0;
}

/*
 * One Login Request. Stages (RFC 7143 6.3, 11.12.3):
 *   CSG 0 security: AuthMethod, CHAP; transit once authenticated
 *   CSG 1 operational: param.c negotiation, our declarations
 *   NSG 3 full feature: the session is built (login_finish)
 * The target transits only when asked (T bit) and ready; a refusal
 * answers with a status class and detail, then closes.
 */
int
login_rx(struct iscsi_conn *conn, const uint8_t *req, const uint8_t *data,
    uint32_t dlen)
{
	struct iscsi_login *l = conn->login;
	uint8_t flags = req[BHS_FLAGS];
	bool transit = (flags & LOGIN_FLAG_TRANSIT) != 0;
	unsigned int csg = (flags >> LOGIN_CSG_SHIFT) & LOGIN_STAGE_MASK;
	unsigned int nsg = flags & LOGIN_STAGE_MASK;
	struct text_list kv;
	struct strbuf sb;
	char *outbuf = NULL, pwhy[128];
	const char *why = "";
	uint16_t status = LOGIN_OK;
	uint8_t rflags;
	const uint8_t *text = data;
	size_t tlen = dlen;
	int rc = 0;

	if (l == NULL)
		return -EPROTO;
	/*
	 * Empty pieces with C, or rounds that never transit, add no text:
	 * only a count ends them before the login timeout does.
	 */
	if (++l->npdus > ISCSI_LOGIN_PDUS_MAX) {
		char many[64];

		snprintf(many, sizeof(many), "more than %u Login PDUs",
		    ISCSI_LOGIN_PDUS_MAX);
		return login_fail(conn, req, LOGIN_ERR_INITIATOR, many);
	}
	/* An empty request asks for the rest of a continued response. */
	if (l->out != NULL) {
		if (dlen != 0)
			return login_fail(conn, req, LOGIN_ERR_INITIATOR,
			    "text while a response was continued");
		return login_send_more(conn, req);
	}
	/* RFC 7143 6.3: the initiator continues its text with C. */
	if ((flags & LOGIN_FLAG_CONTINUE) != 0 || l->in != NULL) {
		char *n;

		if (l->in_len + dlen > ISCSI_TEXT_IN_MAX)
			return login_fail(conn, req, LOGIN_ERR_OUT_OF_RESOURCES,
			    "login text too long");
		n = mem_realloc(l->in, l->in_len + dlen + 1);
		if (n == NULL)
			return login_fail(conn, req, LOGIN_ERR_OUT_OF_RESOURCES,
			    "out of memory");
		if (dlen > 0)
			memcpy(n + l->in_len, data, dlen);
		l->in = n;
		l->in_len += dlen;
		if ((flags & LOGIN_FLAG_CONTINUE) != 0) {
			if (!l->started) {
				memcpy(l->isid, req + LOGIN_ISID,
				    ISCSI_ISID_LEN);
				l->cmdsn = get_be32(req + BHS_CMDSN);
			}
			return login_send(conn, req,
			    (uint8_t)(csg << LOGIN_CSG_SHIFT), LOGIN_OK, NULL,
			    0);
		}
		text = (const uint8_t *)l->in;
		tlen = l->in_len;
	}
	text_list_init(&kv);
	if (tlen > 0 && text_parse(text, tlen, &kv, pwhy, sizeof(pwhy)) != 0) {
		text_list_free(&kv);
		return login_fail(conn, req, LOGIN_ERR_INITIATOR, "bad text");
	}
	mem_free(l->in);
	l->in = NULL;
	l->in_len = 0;

	if (!l->started) {
		status = login_first(conn, req, &kv, &why);
		l->started = true;
		if (status != LOGIN_OK)
			goto fail;
		if (csg != LOGIN_STAGE_SECURITY)
			l->skipped_security = true;
	}
	/* RFC 7143 11.12.3: NSG must follow CSG; stage 2 is reserved. */
	if (csg == 2 || csg == LOGIN_STAGE_FFP ||
	    (transit && (nsg == 2 || nsg <= csg))) {
		status = LOGIN_ERR_INITIATOR;
		why = "bad stage";
		goto fail;
	}
	for (unsigned int i = 0; i < kv.n; i++) {
		const char *k = kv.kv[i].key;

		if (text_count(&kv, k) > 1) {
			status = LOGIN_ERR_MISSING_PARAMETER;
			why = "key offered twice";
			goto fail;
		}
	}
	{
		/*
		 * RFC 7143 13.6: free text, UTF-8, shown to administrators
		 * only (ietadm), always escaped there; longer than its 255
		 * bytes it is cut.
		 */
		const char *alias = text_find(&kv, "InitiatorAlias");

		if (alias != NULL)
			snprintf(l->alias, sizeof(l->alias), "%s", alias);
	}
	outbuf = mem_alloc(ISCSI_TEXT_IN_MAX);
	if (outbuf == NULL) {
		status = LOGIN_ERR_OUT_OF_RESOURCES;
		why = "out of memory";
		goto fail;
	}
	strbuf_init(&sb, outbuf, ISCSI_TEXT_IN_MAX);
	if (csg == LOGIN_STAGE_SECURITY) {
		status = login_security(conn, &kv, &sb, &why);
		if (status != LOGIN_OK)
			goto fail;
	} else if (l->auth_needed && !l->auth_done) {
		/* Operational stage without authentication (RFC 7143 6.3). */
		status = LOGIN_ERR_AUTH_FAILED;
		why = "authentication required";
		goto fail;
	}
	/* Operational keys are accepted in either stage. */
	status = login_operational(conn, &kv, &sb, &why);
	if (status != LOGIN_OK)
		goto fail;
	if (!l->first_rsp_sent && !l->discovery) {
		char tpgt[8], alias[ISCSI_ALIAS_MAX + 1];

		/* RFC 7143 13.9: the first response names the group. */
		snprintf(tpgt, sizeof(tpgt), "%u", l->tpgt);
		text_put(&sb, "TargetPortalGroupTag", tpgt);
		if (target_alias_copy(l->target, alias, sizeof(alias)))
			text_put(&sb, "TargetAlias", alias);
	}
	l->first_rsp_sent = true;
	if (csg == LOGIN_STAGE_OPERATIONAL && !l->declared) {
		char v[16];

		snprintf(v, sizeof(v), "%u",
		    l->target != NULL
			? target_param(l->target,
			      CONF_KEY_MAX_RECV_DATA_SEGMENT_LENGTH)
			: ISCSI_LOGIN_DSL_MAX);
		text_put(&sb, "MaxRecvDataSegmentLength", v);
		l->declared = true;
	}
	if (sb.overflow) {
		status = LOGIN_ERR_OUT_OF_RESOURCES;
		why = "response too long";
		goto fail;
	}
	/* May we move on? Security needs authentication finished. */
	if (transit && csg == LOGIN_STAGE_SECURITY && !l->auth_done &&
	    (l->auth_needed || l->auth_chap))
		transit = false;
	if (transit && csg == LOGIN_STAGE_SECURITY && !l->auth_done &&
	    !l->auth_needed)
		l->auth_done = true;
	rflags = (uint8_t)(csg << LOGIN_CSG_SHIFT);
	if (transit)
		rflags |= LOGIN_FLAG_TRANSIT | (uint8_t)nsg;
	if (transit && nsg == LOGIN_STAGE_FFP && !login_digests_ok(l)) {
		status = LOGIN_ERR_INITIATOR;
		why = "digest required by the target not negotiated";
		goto fail;
	}
	if (transit && nsg == LOGIN_STAGE_FFP) {
		status = login_finish(conn, &why);
		if (status != LOGIN_OK)
			goto fail;
	}
	text_list_free(&kv);
	l->out = outbuf;
	l->out_len = sb.len;
	l->out_off = 0;
	l->out_flags = rflags;
	if (l->out_len == 0) {
		mem_free(l->out);
		l->out = NULL;
		rc = login_send(conn, req, rflags, LOGIN_OK, NULL, 0);
	} else {
		rc = login_send_more(conn, req);
	}
	if (rc != 0)
		return rc;
	if (transit && nsg == LOGIN_STAGE_FFP && l->out == NULL)
		return login_enter_ffp(conn);
	if (transit && nsg == LOGIN_STAGE_FFP) {
		/* XXX: a final response over 8 KiB is not continued. */
		mem_free(l->out);
		l->out = NULL;
		return login_enter_ffp(conn);
	}
	return 0;
fail:
	text_list_free(&kv);
	mem_free(outbuf);
	return login_fail(conn, req, status, why);
}
