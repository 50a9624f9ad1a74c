/* Imports functions no runtime here provides. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_frobnicate"))) int frob(int);
__attribute__((import_module("env"), import_name("magic_number"))) int magic(void);
int main(void) { return frob(magic()); }
