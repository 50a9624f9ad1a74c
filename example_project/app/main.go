// The order service of the Docker+Wasm walkthrough (second-state/microservice-rust-mysql),
// rebuilt in Go for GOOS=wasip1 on WasmEdge's socket extension: HTTP on :8080, orders in
// MySQL/MariaDB at DATABASE_URL.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"orderservice/mysql"
)

func main() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		url = "mysql://root:pass@127.0.0.1:3306/mysql" // the original's default
	}
	cfg, err := mysql.ParseURL(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "order service:", err)
		os.Exit(2)
	}
	port := 8080
	if p := os.Getenv("PORT"); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			fmt.Fprintf(os.Stderr, "order service: PORT=%q is not a number\n", p)
			os.Exit(2)
		}
	}
	ln, err := Listen(port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "order service: cannot listen:", err)
		os.Exit(1)
	}
	fmt.Printf("order service listening on 0.0.0.0:%d, database %s:%d/%s\n", port, cfg.Host, cfg.Port, cfg.Database)
	srv := &http.Server{Handler: (&api{db: &Pool{cfg: cfg}}).routes(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "order service: server error:", err)
		os.Exit(1)
	}
}
