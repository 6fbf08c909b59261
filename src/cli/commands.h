/* The CLI subcommands. Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand itself) and returns the process exit code (see README "Exit codes"). */
#ifndef SMBGATE_COMMANDS_H
#define SMBGATE_COMMANDS_H

int cmd_ls(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mkdir(int argc, char **argv);
int cmd_rmdir(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_df(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_lookup(int argc, char **argv); /* NetBIOS name query (issue 4) */
int cmd_serve(int argc, char **argv);  /* `serve sftp ...` (src/cli/cmd_serve.c) */

#endif
