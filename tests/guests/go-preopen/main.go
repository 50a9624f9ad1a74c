// GOOS=wasip1 net/http server on a preopened listening socket (fd 3, like wasmtime --tcplisten).
// Go's net package drives the socket non-blocking through poll_oneoff.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	l, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Println("FileListener:", err)
		os.Exit(1)
	}
	fmt.Println("go-preopen: serving on", l.Addr())
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go net/http: %s %s\n", r.Method, r.URL.Path)
	})
	fmt.Println(http.Serve(l, nil))
}
