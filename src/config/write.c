/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Writing a configuration model back as ietd.conf text (ietadm show
 * --dump): what it writes loads again, through parse.c, to the same
 * model. Keys are written only where the file set them.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

#define CONF_SECRET_HIDDEN "********"

/*
 * End a written line whose last word is last. A line ending in a backslash
 * would continue onto the next when read back; " #" (an empty comment)
 * keeps the backslash part of the value.
 */
static void
conf_write_eol(FILE *f, const char *last)
{
	size_t n = strlen(last);

	fputs(n > 0 && last[n - 1] == '\\' ? " #\n" : "\n", f);
}

static void
conf_write_accounts(FILE *f, const char *indent,
    const struct list_node *incoming, const struct conf_account *outgoing,
    bool with_secrets)
{
	const struct list_node *n;

	list_for_each(n, incoming) {
		const struct conf_account *a =
		    list_entry(n, const struct conf_account, node);

		const char *secret =
		    with_secrets ? a->secret : CONF_SECRET_HIDDEN;

		fprintf(f, "%sIncomingUser %s %s", indent, a->user, secret);
		conf_write_eol(f, secret);
	}
	if (outgoing != NULL) {
		const char *secret =
		    with_secrets ? outgoing->secret : CONF_SECRET_HIDDEN;

		fprintf(f, "%sOutgoingUser %s %s", indent, outgoing->user,
		    secret);
		conf_write_eol(f, secret);
	}
}

static void
conf_write_lun(FILE *f, const struct conf_lun *l)
{
	static const char *const types[] = {"fileio", "blockio", "nullio",
	    "rbd"};
	static const char *const modes[] = {"wt", "wb", "ro"};

	fprintf(f, "\tLun %u ", l->lun);
	if (l->type == CONF_LUN_NULLIO)
		fprintf(f, "Sectors=%llu", (unsigned long long)l->sectors);
	else
		fprintf(f, "Path=%s", l->path ? l->path : "");
	fprintf(f, ",Type=%s", types[l->type]);
	if (l->scsi_id != NULL)
		fprintf(f, ",ScsiId=%s", l->scsi_id);
	if (l->scsi_sn != NULL)
		fprintf(f, ",ScsiSN=%s", l->scsi_sn);
	if (l->ceph_conf != NULL)
		fprintf(f, ",CephConf=%s", l->ceph_conf);
	if (l->ceph_user != NULL)
		fprintf(f, ",CephUser=%s", l->ceph_user);
	if (l->ceph_keyring != NULL)
		fprintf(f, ",CephKeyring=%s", l->ceph_keyring);
	fprintf(f, ",IOMode=%s,BlockSize=%u", modes[l->iomode], l->block_size);
	/* Only when set, so a plain IET file writes back as IET reads it. */
	if (l->phys_block_size != l->block_size)
		fprintf(f, ",PhysicalBlockSize=%u", l->phys_block_size);
	fputc('\n', f);
}

void
conf_write(const struct conf *conf, FILE *f, bool with_secrets)
{
	const struct list_node *n, *m;
	char val[64];

	fprintf(f, "# ietd.conf written by ietd\n");
	conf_write_accounts(f, "", &conf->incoming, conf->outgoing,
	    with_secrets);
	if (conf->isns_server != NULL) {
		fprintf(f, "iSNSServer %s", conf->isns_server);
		conf_write_eol(f, conf->isns_server);
	}
	if (conf->isns_access_control)
		fprintf(f, "iSNSAccessControl Yes\n");
	conf_portal_write(conf, f);
	list_for_each(n, &conf->targets) {
		const struct conf_target *t =
		    list_entry(n, const struct conf_target, node);

		fprintf(f, "\nTarget %s", t->name);
		conf_write_eol(f, t->name);
		if (t->alias != NULL) {
			fprintf(f, "\tAlias %s", t->alias);
			conf_write_eol(f, t->alias);
		}
		conf_write_accounts(f, "\t", &t->incoming, t->outgoing,
		    with_secrets);
		list_for_each(m, &t->luns)
			conf_write_lun(f,
			    list_entry(m, const struct conf_lun, node));
		conf_tpgs_write(t, f);
		/* Only what the file set, so defaults can change later. */
		for (int k = 0; k < CONF_KEY_COUNT; k++)
			if (t->param_set[k])
				fprintf(f, "\t%s %s\n", conf_key_defs[k].name,
				    conf_key_format((enum conf_key)k,
					t->params[k], val, sizeof(val)));
	}
}
