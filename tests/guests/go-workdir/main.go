// Relative paths against the image's WorkingDir, as a Go wasip1 program makes them: Go keeps its
// own cwd (from PWD) and sends absolute paths. Prints the same lines as tests/guests/c/workdir.c.
package main

import (
	"fmt"
	"os"
	"strings"
)

func fail(what string, err error) {
	fmt.Printf("FAIL %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	data, err := os.ReadFile("data.txt")
	if err != nil {
		fail("read data.txt", err)
	}
	fmt.Printf("read: %s\n", strings.TrimSpace(string(data)))
	st, err := os.Stat("./data.txt")
	if err != nil {
		fail("stat", err)
	}
	fmt.Printf("stat: %d\n", st.Size())
	entries, err := os.ReadDir(".")
	if err != nil {
		fail("readdir", err)
	}
	fmt.Print("dir:")
	for _, e := range entries {
		fmt.Printf(" %s", e.Name())
	}
	fmt.Println()
	if err := os.WriteFile("out.txt", []byte("written\n"), 0o644); err != nil {
		fail("write out.txt", err)
	}
	fmt.Println("wrote")
	motd, err := os.ReadFile("/etc/motd")
	if err != nil {
		fail("read /etc/motd", err)
	}
	fmt.Printf("abs: %s\n", strings.TrimSpace(string(motd)))
	fmt.Println("done")
}
