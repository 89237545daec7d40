/*
 * reload.c — `hookgate reload -c FILE`: checks FILE, finds the hookgate
 * process that listens on FILE's address and sends it SIGHUP (cli.h states
 * the contract; the daemon's side is reload() in main.c).
 *
 * The daemon is found through /proc: the listening TCP socket on the
 * file's port (and address) in /proc/net/tcp and tcp6 gives a socket inode,
 * and the process holding that inode among its descriptors, whose name is
 * "hookgate", is the one signalled. No pid file to go stale, and a reload
 * can never signal some other program that listens there.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"

static const char usage_reload[] =
    "usage: hookgate reload -c FILE\n"
    "\n"
    "Checks FILE and sends SIGHUP to the hookgate that listens on its address,\n"
    "which then loads FILE again: sources, endpoints, secrets, routes, limits\n"
    "and retention change without a restart (listen, store, tls, threads,\n"
    "max_connections, request_timeout and the admin token need one). A file\n"
    "that does not load is refused by the daemon too, and the running\n"
    "configuration stays; its log and audit log record either outcome.\n"
    "\n"
    "  -c, --config FILE   the configuration file the daemon was started with\n"
    "  -h, --help          this help\n";

/* Whether the /proc/net/tcp[6] row's local address is host (any address
 * matches a listener on 0.0.0.0 or ::, and a "0.0.0.0" host matches any). */
static int addr_matches(const char *hexaddr, const char *host)
{
	unsigned char row[16], want[16];
	size_t n = strlen(hexaddr) / 2, i;
	int fam = n == 4 ? AF_INET : AF_INET6;

	if (n != 4 && n != 16)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hexaddr + 2 * i, "%2x", &v) != 1)
			return 0;
		row[i] = (unsigned char)v;
	}
	/* The kernel prints each 32-bit word in host order. */
	for (i = 0; i < n; i += 4) {
		unsigned char t0 = row[i], t1 = row[i + 1];
		row[i] = row[i + 3];
		row[i + 1] = row[i + 2];
		row[i + 2] = t1;
		row[i + 3] = t0;
	}
	static const unsigned char zero[16] = {0};
	if (memcmp(row, zero, n) == 0 || host == NULL || strcmp(host, "0.0.0.0") == 0)
		return 1;
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	return inet_pton(fam, host, want) == 1 && memcmp(row, want, n) == 0;
}

/* The inode of a listening socket on host:port, or 0. */
static unsigned long listener_inode(const char *host, int port)
{
	static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	char line[512], local[64];
	unsigned lport, state;
	unsigned long inode;

	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			 */
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu",
				   local, &lport, &state, &inode) != 4)
				continue;
			if (state == 0x0A /* LISTEN */ && (int)lport == port && inode != 0 &&
			    addr_matches(local, host)) {
				fclose(f);
				return inode;
			}
		}
		fclose(f);
	}
	return 0;
}

/* The pid of a process named hookgate holding socket inode, or 0. */
static pid_t holder_of(unsigned long inode)
{
	char want[64], path[512], target[64], comm[64];
	DIR *proc = opendir("/proc");
	struct dirent *p;
	pid_t found = 0;

	if (proc == NULL)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (found == 0 && (p = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		int named = fgets(comm, sizeof(comm), f) != NULL &&
			    strncmp(comm, "hookgate", 8) == 0 &&
			    (comm[8] == '\n' || comm[8] == '\0');
		fclose(f);
		if (!named)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		DIR *fds = opendir(path);
		struct dirent *fd;
		while (fds != NULL && found == 0 && (fd = readdir(fds)) != NULL) {
			char link[600];
			ssize_t n;
			snprintf(link, sizeof(link), "/proc/%s/fd/%s", p->d_name, fd->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = '\0';
				if (strcmp(target, want) == 0)
					found = (pid_t)atol(p->d_name);
			}
		}
		if (fds != NULL)
			closedir(fds);
	}
	closedir(proc);
	return found;
}

int hg_cli_reload(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct hg_config *cfg = NULL;
	const char *path = NULL;
	char err[1024];
	unsigned long inode;
	pid_t pid;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			fputs(usage_reload, stdout);
			return HG_EXIT_OK;
		default:
			fputs(usage_reload, stderr);
			return HG_EXIT_USAGE;
		}
	}
	if (path == NULL || optind < argc) {
		fputs(usage_reload, stderr);
		return HG_EXIT_USAGE;
	}
	/* The shape only: the secrets' variables live in the daemon's
	 * environment, which the daemon reads when it loads the file. */
	if (hg_config_load_opts(path, HG_CONFIG_NO_SECRETS, &cfg, err, sizeof(err)) != HG_OK) {
		fprintf(stderr,
			"hookgate: %s\nhookgate: nothing sent: the daemon keeps its config\n", err);
		return HG_EXIT_USAGE;
	}
	inode = listener_inode(cfg->listen_host, cfg->listen_port);
	pid = inode != 0 ? holder_of(inode) : 0;
	if (pid == 0) {
		fprintf(stderr,
			"hookgate: no hookgate process listens on %s:%d (the address in %s); "
			"start it, or restart it if you changed listen\n",
			cfg->listen_host, cfg->listen_port, path);
		hg_config_free(cfg);
		return HG_EXIT_RUNTIME;
	}
	if (kill(pid, SIGHUP) != 0) {
		fprintf(stderr, "hookgate: cannot signal pid %ld: %s\n", (long)pid,
			strerror(errno));
		hg_config_free(cfg);
		return HG_EXIT_RUNTIME;
	}
	printf("sent SIGHUP to hookgate (pid %ld) on %s:%d; its log and audit log say whether "
	       "%s was taken\n",
	       (long)pid, cfg->listen_host, cfg->listen_port, path);
	hg_config_free(cfg);
	return HG_EXIT_OK;
}
