module weftbench/peer

go 1.19
