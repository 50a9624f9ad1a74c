// testapp: the Docker services tests' Linux image (static, stdlib only, so no base image is needed).
//
//	testapp serve   listen on $PORT (8080) after $DELAY_MS; GET / -> "hello <$GREETING>", GET /env/NAME
//	testapp check URL   exit 0 when URL answers 200 (the image's healthcheck command; no shell needed)
//	testapp exit N      print a line and exit with code N
//	testapp sleep       print a line and sleep until stopped
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func serve() {
	delay, _ := strconv.Atoi(env("DELAY_MS", "0"))
	fmt.Println("testapp starting")
	time.Sleep(time.Duration(delay) * time.Millisecond)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", env("GREETING", "world"))
	})
	http.HandleFunc("/env/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Path[len("/env/"):]))
	})
	port := env("PORT", "8080")
	fmt.Printf("testapp listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func main() {
	go func() { // PID 1 gets no default signal handling: stop promptly on SIGTERM
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		fmt.Println("testapp stopping")
		os.Exit(0)
	}()
	what := "serve"
	if len(os.Args) > 1 {
		what = os.Args[1]
	}
	switch what {
	case "serve":
		serve()
	case "check":
		resp, err := http.Get(os.Args[2])
		if err != nil || resp.StatusCode != 200 {
			fmt.Println("unhealthy:", err)
			os.Exit(1)
		}
		fmt.Println("healthy")
	case "exit":
		code, _ := strconv.Atoi(os.Args[2])
		fmt.Fprintf(os.Stderr, "testapp exiting with %d\n", code)
		os.Exit(code)
	case "sleep":
		fmt.Println("testapp sleeping")
		select {}
	default:
		fmt.Fprintln(os.Stderr, "testapp: unknown command", what)
		os.Exit(2)
	}
}
