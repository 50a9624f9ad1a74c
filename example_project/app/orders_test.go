package main

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestOrderJSONLooksLikeSerde(t *testing.T) {
	b, _ := json.Marshal([]Order{{1, 12, 2, 56, 15.99, 0.25, `a "b"`}})
	want := `[{"order_id":1,"product_id":12,"quantity":2,"amount":56.0,"shipping":15.99,"tax":0.25,"shipping_address":"a \"b\""}]`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestDecodeOrdersNeedsEveryField(t *testing.T) {
	_, err := decodeOrders([]byte(`{"order_id":1}`), false)
	if err == nil || !strings.Contains(err.Error(), `missing field "product_id"`) {
		t.Fatalf("%v", err)
	}
	full := `{"order_id":1,"product_id":2,"quantity":3,"amount":4.5,"shipping":1,"tax":0,"shipping_address":"x"}`
	got, err := decodeOrders([]byte("["+full+","+full+"]"), true)
	if err != nil || len(got) != 2 || got[1].Amount != 4.5 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := decodeOrders([]byte(`{"order_id":"one","product_id":2,"quantity":3,"amount":4.5,"shipping":1,"tax":0,"shipping_address":"x"}`), false); err == nil {
		t.Fatal("a string order_id was accepted")
	}
}

func TestScanOrderReadsMariaDBText(t *testing.T) {
	s := func(v string) *string { return &v }
	o, err := scanOrder([]*string{s("3"), s("7"), s("1"), s("15.99"), s("0"), s("2.5"), nil})
	if err != nil || o.OrderID != 3 || o.Amount != 15.99 || o.ShippingAddress != "" {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestRoutesMatchMethodAndPath(t *testing.T) {
	h := (&api{}).routes()
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/", 200}, {"POST", "/init", 404}, {"GET", "/create_order", 404}, {"GET", "/nope", 404}, {"POST", "/echo", 200}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader("hi")))
		if w.Code != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.status)
		}
	}
}

func TestParseHostPort(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.11:53": "127.0.0.11:53", "10.0.0.1": "10.0.0.1:53", "[fd00::1]:5353": "[fd00::1]:5353", "fd00::1": "[fd00::1]:53"} {
		ip, port, err := parseHostPort(in, 53)
		if err != nil || netip.AddrPortFrom(ip, uint16(port)).String() != want {
			t.Errorf("%s -> %v %d %v", in, ip, port, err)
		}
	}
	if _, _, err := parseHostPort("dns.example:53", 53); err == nil {
		t.Error("a name was accepted")
	}
}
