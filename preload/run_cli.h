/*
 * run_cli.h - the `run` command of proxystack(1) (preload/run_cli.c).
 */
#ifndef PRELOAD_RUN_CLI_H
#define PRELOAD_RUN_CLI_H

/*
 * exec argv[0] (searched in PATH) with libproxystack-preload.so appended
 * to LD_PRELOAD and conf_dir (NULL: the library's default) passed down
 * in PROXYSTACK_RUN_CONF_DIR.  Returns only on failure, with the exit
 * status: 2 no command, 1 no preload library, 127 command not found,
 * 126 found but not executable.
 */
int run_cli_exec(const char *conf_dir, char **argv);

#endif /* PRELOAD_RUN_CLI_H */
