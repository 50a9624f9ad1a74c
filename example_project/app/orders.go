package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"orderservice/mysql"
)

// Order has the fields, order and types (i32, f32, String) of the original's struct.
type Order struct {
	OrderID         int32   `json:"order_id"`
	ProductID       int32   `json:"product_id"`
	Quantity        int32   `json:"quantity"`
	Amount          float32 `json:"amount"`
	Shipping        float32 `json:"shipping"`
	Tax             float32 `json:"tax"`
	ShippingAddress string  `json:"shipping_address"`
}

var orderFields = []string{"order_id", "product_id", "quantity", "amount", "shipping", "tax", "shipping_address"}

// MarshalJSON writes floats like serde_json does for f32 (56.0, not 56).
func (o Order) MarshalJSON() ([]byte, error) {
	addr, _ := json.Marshal(o.ShippingAddress)
	return []byte(fmt.Sprintf(`{"order_id":%d,"product_id":%d,"quantity":%d,"amount":%s,"shipping":%s,"tax":%s,"shipping_address":%s}`,
		o.OrderID, o.ProductID, o.Quantity, f32(o.Amount), f32(o.Shipping), f32(o.Tax), addr)), nil
}

func f32(v float32) string {
	x := float64(v)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "null"
	case x == math.Trunc(x) && math.Abs(x) < 1e16:
		return strconv.FormatFloat(x, 'f', -1, 32) + ".0"
	case math.Abs(x) >= 1e-5 && math.Abs(x) < 1e16:
		return strconv.FormatFloat(x, 'f', -1, 32)
	}
	return strconv.FormatFloat(x, 'e', -1, 32)
}

// decodeOrders reads one order or an array of them; every field is required, as in the original.
func decodeOrders(body []byte, many bool) ([]Order, error) {
	var raw []map[string]json.RawMessage
	if many {
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, fmt.Errorf("body must be a JSON array of orders: %w", err)
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(body, &one); err != nil || one == nil {
			return nil, fmt.Errorf("body must be a JSON order object: %v", err)
		}
		raw = []map[string]json.RawMessage{one}
	}
	out := make([]Order, 0, len(raw))
	for i, m := range raw {
		for _, f := range orderFields {
			if _, ok := m[f]; !ok {
				return nil, fmt.Errorf("order %d: missing field %q", i, f)
			}
		}
		var o Order
		dec := json.NewDecoder(bytes.NewReader(mustJSON(m)))
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("order %d: %w", i, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

type api struct{ db *Pool }

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var statusTrue = []byte(`{"status":true}`)

func fail(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, mustJSON(map[string]any{"status": false, "error": err.Error()}))
}

// dbFail answers 500 for database trouble (unreachable, login, SQL errors).
func dbFail(w http.ResponseWriter, err error) { fail(w, http.StatusInternalServerError, err) }

// routes matches method and path exactly, as the original's match on (method, path) does:
// anything else, a known path with another method included, is 404.
func (a *api) routes() http.Handler {
	table := map[string]http.HandlerFunc{
		"GET /": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "The valid endpoints are /init /create_order /create_orders /update_order /orders /delete_order")
		},
		"POST /echo":          func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) },
		"GET /init":           a.init,
		"POST /create_order":  a.create(false),
		"POST /create_orders": a.create(true),
		"POST /update_order":  a.update,
		"GET /orders":         a.list,
		"GET /delete_order":   a.delete,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := table[r.Method+" "+r.URL.Path]; ok {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})
}

func (a *api) init(w http.ResponseWriter, r *http.Request) {
	err := a.db.Exec(func(c *mysql.Conn) error {
		if _, err := c.Exec("DROP TABLE IF EXISTS orders;"); err != nil {
			return err
		}
		_, err := c.Exec("CREATE TABLE orders (order_id INT, product_id INT, quantity INT, amount FLOAT, " +
			"shipping FLOAT, tax FLOAT, shipping_address VARCHAR(20));")
		return err
	})
	if err != nil {
		dbFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, statusTrue)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return nil, false
	}
	return body, true
}

const insertOrder = "INSERT INTO orders (order_id, product_id, quantity, amount, shipping, tax, shipping_address) VALUES "

func orderValues(o Order) (string, error) {
	return mysql.Interpolate("(?, ?, ?, ?, ?, ?, ?)",
		o.OrderID, o.ProductID, o.Quantity, o.Amount, o.Shipping, o.Tax, o.ShippingAddress)
}

func (a *api) create(many bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		orders, err := decodeOrders(body, many)
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if len(orders) == 0 {
			writeJSON(w, http.StatusOK, statusTrue)
			return
		}
		rows := make([]string, len(orders))
		for i, o := range orders {
			if rows[i], err = orderValues(o); err != nil {
				fail(w, http.StatusBadRequest, err)
				return
			}
		}
		err = a.db.Exec(func(c *mysql.Conn) error {
			_, err := c.Exec(insertOrder + strings.Join(rows, ", "))
			return err
		})
		if err != nil {
			dbFail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, statusTrue)
	}
}

func (a *api) update(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	orders, err := decodeOrders(body, false)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	o := orders[0]
	err = a.db.Exec(func(c *mysql.Conn) error {
		_, err := c.Exec("UPDATE orders SET product_id=?, quantity=?, amount=?, shipping=?, tax=?, "+
			"shipping_address=? WHERE order_id=?",
			o.ProductID, o.Quantity, o.Amount, o.Shipping, o.Tax, o.ShippingAddress, o.OrderID)
		return err
	})
	if err != nil {
		dbFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, statusTrue)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	var res *mysql.Result
	err := a.db.Exec(func(c *mysql.Conn) (err error) {
		res, err = c.Exec("SELECT order_id, product_id, quantity, amount, shipping, tax, shipping_address FROM orders")
		return err
	})
	if err != nil {
		dbFail(w, err)
		return
	}
	orders := make([]Order, 0, len(res.Rows))
	for _, row := range res.Rows {
		o, err := scanOrder(row)
		if err != nil {
			dbFail(w, err)
			return
		}
		orders = append(orders, o)
	}
	body, err := json.Marshal(orders)
	if err != nil {
		dbFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func scanOrder(row []*string) (Order, error) {
	if len(row) != 7 {
		return Order{}, errors.New("orders table has an unexpected shape; call /init")
	}
	text := func(i int) string {
		if row[i] == nil {
			return ""
		}
		return *row[i]
	}
	var ints [3]int64
	var floats [3]float64
	var err error
	for i := range ints {
		if s := text(i); s != "" {
			if ints[i], err = strconv.ParseInt(s, 10, 32); err != nil {
				return Order{}, fmt.Errorf("column %s: %w", orderFields[i], err)
			}
		}
	}
	for i := range floats {
		if s := text(3 + i); s != "" {
			if floats[i], err = strconv.ParseFloat(s, 32); err != nil {
				return Order{}, fmt.Errorf("column %s: %w", orderFields[3+i], err)
			}
		}
	}
	return Order{int32(ints[0]), int32(ints[1]), int32(ints[2]),
		float32(floats[0]), float32(floats[1]), float32(floats[2]), text(6)}, nil
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	// As in the original: the id is compared as given; no id deletes nothing.
	var id any
	if v, ok := r.URL.Query()["id"]; ok && len(v) > 0 {
		id = v[0]
	}
	err := a.db.Exec(func(c *mysql.Conn) error {
		_, err := c.Exec("DELETE FROM orders WHERE order_id=?", id)
		return err
	})
	if err != nil {
		dbFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, statusTrue)
}
