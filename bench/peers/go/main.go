// weft-bench-go: the Go peer of weft-bench. The same workloads on goroutines, printing
// the same single line of key=value pairs (bench= impl=go ... elapsed_ms=), so that
// bench/compare.sh can put weft, Go and Boost.Fiber side by side. elapsed_ms is the
// wall time of the measured part only.
//
//	spawn N        N goroutines, each signals a sync.WaitGroup          (ns_per_op)
//	yield N        two goroutines hand a "turn" back and forth with runtime.Gosched,
//	               N round trips, GOMAXPROCS(1)                         (ns_per_roundtrip)
//	idle G         G goroutines parked on a channel receive; RSS delta / G, after
//	               runtime.GC + debug.FreeOSMemory                      (rss_per_fiber_bytes)
//	idlecpu MS     main sleeps MS ms, nothing else runs; process CPU%   (cpu_percent)
//	mutex N        4 goroutines, one sync.Mutex, N lock/unlock in all   (ns_per_op)
//	skynet N       10-ary tree down to N leaves, WaitGroup + result slot per node (sum)
//	skynet-chan N  the original skynet: each node makes(chan, 10) for its children (sum)
//	pingpong N     two goroutines, two unbuffered channels, N round trips
//	ring G N       G goroutines in a ring of unbuffered channels, N passes of a token
//	select N       4 producers (N/4 each, own chan cap 64), 1 consumer selecting
//	echo C N       loopback TCP echo: a server goroutine per connection echoes what it
//	               reads; C client goroutines, one connection each, write a 64-byte
//	               message and read it back whole, N round trips in all (msgs_per_s)
//	stream C S     C connections each send S bytes one way in 64 KiB writes, then
//	               CloseWrite; the server reads to EOF and answers one byte (bytes_per_s)
//
// echo and stream run client and server in this process over 127.0.0.1 with the net
// package (TCP_NODELAY, as Go sets it). Every connection is dialed and accepted before
// the clock starts; the clock stops when the last client has finished.
//
// GOMAXPROCS comes from the environment (Go's default: every CPU) except in yield.
// Build: cd bench/peers/go && GOPROXY=off go build -o weft-bench-go .   (stdlib only)
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func arg(i int, def int64) int64 {
	if len(os.Args) > i {
		v, err := strconv.ParseInt(os.Args[i], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "weft-bench-go: bad argument %q\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func per(d time.Duration, n int64) float64 { return float64(d.Nanoseconds()) / float64(n) }

// rss is the resident set size, from /proc/self/statm.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}

// cpuMs is the process's user + system CPU time so far (getrusage RUSAGE_SELF).
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func spawn(n int64) {
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	e := time.Since(t0)
	fmt.Printf("bench=spawn impl=go n=%d elapsed_ms=%.3f ns_per_op=%.1f\n", n, ms(e), per(e, n))
}

func yieldBench(n int64) {
	runtime.GOMAXPROCS(1)
	var turn int32
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for side := int32(0); side < 2; side++ {
		go func(side int32) {
			for i := int64(0); i < n; i++ {
				for atomic.LoadInt32(&turn) != side {
					runtime.Gosched()
				}
				atomic.StoreInt32(&turn, 1-side)
			}
			wg.Done()
		}(side)
	}
	wg.Wait()
	e := time.Since(t0)
	fmt.Printf("bench=yield impl=go n=%d elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms(e), per(e, n))
}

func idle(g int64) {
	runtime.GC()
	debug.FreeOSMemory()
	r0 := rss()
	t0 := time.Now()
	release := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(int(g))
	done.Add(int(g))
	for i := int64(0); i < g; i++ {
		go func() {
			parked.Done()
			<-release
			done.Done()
		}()
	}
	parked.Wait()
	e := time.Since(t0)
	// The last goroutines have signalled but may not have reached the receive yet.
	time.Sleep(20 * time.Millisecond)
	r1 := rss()
	close(release)
	done.Wait()
	fmt.Printf("bench=idle impl=go g=%d elapsed_ms=%.3f rss_per_fiber_bytes=%.0f\n", g, ms(e), float64(r1-r0)/float64(g))
}

func idlecpu(msArg int64) {
	time.Sleep(20 * time.Millisecond) // let start-up work settle
	c0 := cpuMs()
	t0 := time.Now()
	time.Sleep(time.Duration(msArg) * time.Millisecond)
	wall := ms(time.Since(t0))
	cpu := cpuMs() - c0
	fmt.Printf("bench=idlecpu impl=go ms=%d elapsed_ms=%.3f cpu_percent=%.2f\n", msArg, wall, 100*cpu/wall)
}

func mutexBench(n int64) {
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	wg.Add(4)
	t0 := time.Now()
	for f := 0; f < 4; f++ {
		go func() {
			for i := int64(0); i < n/4; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	e := time.Since(t0)
	fmt.Printf("bench=mutex impl=go n=%d elapsed_ms=%.3f ns_per_op=%.1f counter=%d\n", n, ms(e), per(e, n), counter)
}

func skynetWG(num, size int64, out *int64) {
	if size == 1 {
		*out = num
		return
	}
	var results [10]int64
	var wg sync.WaitGroup
	wg.Add(10)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go func(i int64) {
			skynetWG(num+i*sub, sub, &results[i])
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum int64
	for _, r := range results {
		sum += r
	}
	*out = sum
}

func skynetChan(c chan int64, num, size int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64, 10)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go skynetChan(rc, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func pingpong(n int64) {
	a, b := make(chan int64), make(chan int64)
	t0 := time.Now()
	go func() {
		for v := range a {
			b <- v + 1
		}
	}()
	for i := int64(0); i < n; i++ {
		a <- i
		<-b
	}
	e := time.Since(t0)
	close(a)
	fmt.Printf("bench=pingpong impl=go n=%d elapsed_ms=%.3f ns_per_roundtrip=%.1f\n", n, ms(e), per(e, n))
}

// ring: goroutine i receives the token (a pass count) on chans[i] and sends it, plus
// one, on chans[i+1 mod g]; whoever receives the count n stops the run.
func ring(g, n int64) {
	chans := make([]chan int64, g)
	for i := range chans {
		chans[i] = make(chan int64)
	}
	done := make(chan struct{})
	t0 := time.Now()
	for i := int64(0); i < g; i++ {
		go func(i int64) {
			in, out := chans[i], chans[(i+1)%g]
			for v := range in {
				if v >= n {
					close(done)
					return
				}
				out <- v + 1
			}
		}(i)
	}
	chans[0] <- 0
	<-done
	e := time.Since(t0)
	for _, c := range chans {
		close(c)
	}
	fmt.Printf("bench=ring impl=go g=%d n=%d elapsed_ms=%.3f ns_per_pass=%.1f\n", g, n, ms(e), per(e, n))
}

func selectBench(n int64) {
	per4 := n / 4
	total := per4 * 4
	var cs [4]chan int64
	for i := range cs {
		cs[i] = make(chan int64, 64)
	}
	t0 := time.Now()
	for i := range cs {
		go func(c chan int64) {
			for k := int64(0); k < per4; k++ {
				c <- k
			}
		}(cs[i])
	}
	var got, sum int64
	for got < total {
		var v int64
		select {
		case v = <-cs[0]:
		case v = <-cs[1]:
		case v = <-cs[2]:
		case v = <-cs[3]:
		}
		sum += v
		got++
	}
	e := time.Since(t0)
	_ = sum
	fmt.Printf("bench=select impl=go n=%d elapsed_ms=%.3f ns_per_msg=%.1f\n", total, ms(e), per(e, total))
}

// fail ends the run: a network benchmark has nothing sensible to fall back on.
func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "weft-bench-go: %s: %v\n", what, err)
	os.Exit(1)
}

const (
	echoMsg     = 64
	streamChunk = 64 << 10
)

// netBench sets up the loopback pair common to echo and stream: a listener whose
// accept loop hands each of c connections to a new goroutine running serve, and c
// client goroutines, each dialing and then running client once the clock starts. It
// returns the measured wall time, from the moment every connection is established
// (dialed and accepted) until every client has returned.
func netBench(c int64, serve func(conn *net.TCPConn), client func(i int64, conn *net.TCPConn)) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	addr := ln.Addr().String()
	var ready, done, served sync.WaitGroup
	ready.Add(int(2 * c)) // c dials, c accepts
	done.Add(int(c))
	served.Add(int(c))
	go func() {
		for i := int64(0); i < c; i++ {
			conn, err := ln.Accept()
			if err != nil {
				fail("accept", err)
			}
			ready.Done()
			go func() {
				defer served.Done()
				defer conn.Close()
				serve(conn.(*net.TCPConn))
			}()
		}
	}()
	start := make(chan struct{})
	for i := int64(0); i < c; i++ {
		go func(i int64) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				fail("dial", err)
			}
			ready.Done()
			<-start
			client(i, conn.(*net.TCPConn))
			conn.Close()
			done.Done()
		}(i)
	}
	ready.Wait()
	ln.Close()
	t0 := time.Now()
	close(start)
	done.Wait()
	e := time.Since(t0)
	served.Wait()
	return e
}

func echo(c, n int64) {
	e := netBench(c, func(conn *net.TCPConn) {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			if _, err := conn.Write(buf[:k]); err != nil {
				return
			}
		}
	}, func(i int64, conn *net.TCPConn) {
		rounds := n / c
		if i < n%c {
			rounds++
		}
		var msg, back [echoMsg]byte
		for k := range msg {
			msg[k] = 'x'
		}
		for r := int64(0); r < rounds; r++ {
			binary.LittleEndian.PutUint64(msg[:], uint64(r))
			if _, err := conn.Write(msg[:]); err != nil {
				fail("echo: write", err)
			}
			if _, err := io.ReadFull(conn, back[:]); err != nil {
				fail("echo: read", err)
			}
			if !bytes.Equal(msg[:], back[:]) {
				fail("echo", fmt.Errorf("reply differs from the message"))
			}
		}
	})
	fmt.Printf("bench=echo impl=go conns=%d n=%d msg_bytes=%d elapsed_ms=%.3f msgs_per_s=%.0f\n",
		c, n, echoMsg, ms(e), float64(n)/e.Seconds())
}

func stream(c, s int64) {
	e := netBench(c, func(conn *net.TCPConn) {
		buf := make([]byte, streamChunk)
		var got int64
		for {
			k, err := conn.Read(buf)
			got += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				fail("stream: server read", err)
			}
		}
		if got != s {
			fail("stream", fmt.Errorf("server read %d bytes, want %d", got, s))
		}
		if _, err := conn.Write([]byte{1}); err != nil {
			fail("stream: server write", err)
		}
	}, func(i int64, conn *net.TCPConn) {
		buf := bytes.Repeat([]byte{'x'}, streamChunk)
		for sent := int64(0); sent < s; {
			k := s - sent
			if k > streamChunk {
				k = streamChunk
			}
			if _, err := conn.Write(buf[:k]); err != nil {
				fail("stream: write", err)
			}
			sent += k
		}
		if err := conn.CloseWrite(); err != nil {
			fail("stream: shutdown", err)
		}
		var ack [1]byte
		if _, err := io.ReadFull(conn, ack[:]); err != nil {
			fail("stream: read ack", err)
		}
	})
	fmt.Printf("bench=stream impl=go conns=%d bytes_per_conn=%d elapsed_ms=%.3f bytes_per_s=%.0f\n",
		c, s, ms(e), float64(c*s)/e.Seconds())
}

const usage = `usage: weft-bench-go <bench> [args]
  spawn [N=1000000] | yield [N=1000000] | idle [G=100000] | idlecpu [MS=1000]
  mutex [N=1000000] | skynet [N=1000000] | skynet-chan [N=1000000]
  pingpong [N=1000000] | ring [G=1000] [N=1000000] | select [N=1000000]
  echo [C=1000] [N=500000] | stream [C=4] [S=1073741824]`

func main() {
	cmd := ""
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "spawn":
		spawn(arg(2, 1000000))
	case "yield":
		yieldBench(arg(2, 1000000))
	case "idle":
		idle(arg(2, 100000))
	case "idlecpu":
		idlecpu(arg(2, 1000))
	case "mutex":
		mutexBench(arg(2, 1000000))
	case "skynet":
		n := arg(2, 1000000)
		t0 := time.Now()
		var sum int64
		skynetWG(0, n, &sum)
		e := time.Since(t0)
		fmt.Printf("bench=skynet impl=go n=%d sum=%d elapsed_ms=%.3f\n", n, sum, ms(e))
	case "skynet-chan":
		n := arg(2, 1000000)
		t0 := time.Now()
		c := make(chan int64, 1)
		go skynetChan(c, 0, n)
		sum := <-c
		e := time.Since(t0)
		fmt.Printf("bench=skynet-chan impl=go n=%d sum=%d elapsed_ms=%.3f\n", n, sum, ms(e))
	case "pingpong":
		pingpong(arg(2, 1000000))
	case "ring":
		g := arg(2, 1000)
		if g < 2 {
			fmt.Fprintln(os.Stderr, "weft-bench-go: ring needs at least 2 goroutines")
			os.Exit(2)
		}
		ring(g, arg(3, 1000000))
	case "select":
		selectBench(arg(2, 1000000))
	case "echo":
		echo(arg(2, 1000), arg(3, 500000))
	case "stream":
		stream(arg(2, 4), arg(3, 1<<30))
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}
