module testapp

go 1.21
