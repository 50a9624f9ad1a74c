module orderservice

go 1.22
