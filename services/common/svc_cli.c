/*
 * svc_cli.c - the command line of the service processes.
 *
 * Every service reads its flags the same way: --help, --version, the
 * common flags (shmbus_svc_opt), a stage's --ring/--capacity/--eos-count/--exit-on-eos,
 * then the tool's own through a callback; anything else prints the usage
 * text. A bad value is a usage error (exit 2) that names the flag and the
 * value as given, in full, and points at --help; so is a --stats-json
 * path that cannot be written, as a --rules or --config file that cannot
 * be read is.
 */
#define _GNU_SOURCE
#include "svc.h"
#include "tool_version.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int shmbus_svc_usage_error(const char *tool, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see %s --help)\n", tool);
	return 2;
}

void shmbus_svc_stage_opts_init(struct shmbus_svc_stage_opts *o, const char *ring)
{
	o->ring = ring;
	o->capacity = 0; /* the existing ring's, else SHMBUS_SVC_STAGE_CAPACITY */
	o->eos_count = 1;
	o->exit_on_eos = 0;
}

/* Apply the stage flag @opt. Returns 1 when applied, 0 when @opt is no
 * stage flag, -1 for a bad value (printed here, with @arg whole). */
static int svc_stage_opt(const char *tool, struct shmbus_svc_stage_opts *o, int opt,
                         const char *arg)
{
	uint64_t v;

	switch (opt) {
	case SHMBUS_SVC_OPT_RING:
		if (shmbus_name_check("ring", arg) != 0) {
			shmbus_svc_usage_error(tool, "--ring: %s", shmbus_errmsg());
			return -1;
		}
		o->ring = arg;
		return 1;
	case SHMBUS_SVC_OPT_CAPACITY:
		if (shmbus_svc_parse_u64(arg, &v) != 0 || v < 2 || v > (1u << 24) ||
		    (v & (v - 1))) {
			shmbus_svc_usage_error(tool, "--capacity '%s': a power of two 2..16777216",
			                       arg);
			return -1;
		}
		o->capacity = (uint32_t)v;
		return 1;
	case SHMBUS_SVC_OPT_EOS_COUNT:
		if (shmbus_svc_parse_u64(arg, &v) != 0 || v == 0) {
			shmbus_svc_usage_error(tool, "--eos-count '%s': a whole number >= 1", arg);
			return -1;
		}
		o->eos_count = v;
		return 1;
	case SHMBUS_SVC_OPT_EXIT_ON_EOS:
		o->exit_on_eos = 1;
		return 1;
	default:
		return 0;
	}
}

int shmbus_svc_parse_args(const struct shmbus_svc_cli *cli, int argc, char **argv)
{
	char err[256];
	int opt, idx = -1, rc;

	if (tool_version_asked(argc, argv))
		return tool_version_print(cli->tool);
	while ((opt = getopt_long(argc, argv, cli->shortopts, cli->longopts, &idx)) != -1) {
		/* getopt_long sets idx for a long option only */
		const char *name = idx >= 0 ? cli->longopts[idx].name : NULL;

		idx = -1;
		if (opt == 'h') {
			printf(cli->usage, shmbus_svc_common_usage);
			return 0;
		}
		rc = shmbus_svc_opt(cli->so, opt, optarg, err, sizeof(err));
		if (rc < 0)
			return shmbus_svc_usage_error(cli->tool, "%s", err);
		if (rc == 0 && cli->stage)
			rc = svc_stage_opt(cli->tool, cli->stage, opt, optarg);
		if (rc < 0)
			return 2; /* printed */
		if (rc > 0)
			continue;
		rc = cli->own ? cli->own(cli->ctx, opt, name, optarg) : -ENOENT;
		if (rc < 0) {
			fprintf(stderr, cli->usage, shmbus_svc_common_usage);
			return 2;
		}
		if (rc > 0)
			return rc;
	}
	if (optind < argc)
		return shmbus_svc_usage_error(cli->tool, "unexpected argument '%s'", argv[optind]);
	if (shmbus_bus_path(cli->so->bus, err, sizeof(err)) == -EINVAL) /* from SHMBUS_BUS */
		return shmbus_svc_usage_error(cli->tool, "SHMBUS_BUS: %s", shmbus_errmsg());
	/* Written only at exit: a path that cannot take it would be found
	 * after the whole run, as a warning. */
	if (cli->so->stats_json && (rc = shmbus_svc_json_check(cli->so->stats_json)) != 0)
		return shmbus_svc_usage_error(cli->tool, "--stats-json '%s': cannot be written: %s",
		                              cli->so->stats_json, strerror(-rc));
	return -1;
}
