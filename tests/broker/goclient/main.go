// goclient: weftd against the Go client (Debian's golang-github-rabbitmq-amqp091-go-dev).
//
//	goclient amqp://guest:guest@127.0.0.1:PORT/
//
// Exits 0 when every check passes; otherwise prints what failed and exits 1.
package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		fmt.Printf("FAIL: "+format+"\n", args...)
		os.Exit(1)
	}
}

func must(err error, what string) {
	check(err == nil, "%s: %v", what, err)
}

func recv(ch <-chan amqp.Delivery, what string) amqp.Delivery {
	select {
	case d, ok := <-ch:
		check(ok, "%s: delivery channel closed", what)
		return d
	case <-time.After(30 * time.Second):
		check(false, "%s: no delivery", what)
	}
	return amqp.Delivery{}
}

func main() {
	conn, err := amqp.DialConfig(os.Args[1], amqp.Config{Heartbeat: 10 * time.Second, ChannelMax: 64})
	must(err, "dial")
	defer conn.Close()
	check(conn.Properties["product"] == "weftd", "server product %v", conn.Properties["product"])
	caps, _ := conn.Properties["capabilities"].(amqp.Table)
	check(caps["publisher_confirms"] == true, "capabilities %v", caps)

	ch, err := conn.Channel()
	must(err, "channel")
	must(ch.ExchangeDeclare("go-x", "topic", false, true, false, false, nil), "exchange declare")
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	must(err, "queue declare")
	must(ch.QueueBind(q.Name, "go.*", "go-x", false, nil), "bind")

	// Confirms.
	must(ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 100))
	for i := 0; i < 50; i++ {
		must(ch.Publish("go-x", "go.key", false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))}), "publish")
	}
	for i := 0; i < 50; i++ {
		c := <-confirms
		check(c.Ack, "publish %d nacked", c.DeliveryTag)
	}

	// Consume with manual acks, prefetch 10; nack one with requeue and see it again.
	must(ch.Qos(10, 0, false), "qos")
	deliveries, err := ch.Consume(q.Name, "go-consumer", false, false, false, false, nil)
	must(err, "consume")
	first := recv(deliveries, "first")
	check(string(first.Body) == "0", "first body %q", first.Body)
	must(first.Nack(false, true), "nack")
	seenAgain := false
	for i := 0; i < 50; i++ {
		d := recv(deliveries, "delivery")
		if d.Redelivered && string(d.Body) == "0" {
			seenAgain = true
		}
		must(d.Ack(false), "ack")
	}
	check(seenAgain, "the nacked message did not come back redelivered")
	must(ch.Cancel("go-consumer", false), "cancel")

	// Mandatory publish to nowhere comes back as basic.return 312.
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	must(ch.Publish("go-x", "nowhere.at.all", true, false, amqp.Publishing{Body: []byte("r")}), "mandatory publish")
	select {
	case r := <-returns:
		check(r.ReplyCode == 312, "return code %d", r.ReplyCode)
	case <-time.After(30 * time.Second):
		check(false, "no basic.return")
	}

	// A large body, split over many frames, and an empty one.
	ch2, err := conn.Channel()
	must(err, "channel 2")
	q2, err := ch2.QueueDeclare("", false, true, true, false, nil)
	must(err, "queue 2")
	big := bytes.Repeat([]byte("0123456789abcdef"), 200000)
	must(ch2.Publish("", q2.Name, false, false, amqp.Publishing{Body: big}), "big publish")
	must(ch2.Publish("", q2.Name, false, false, amqp.Publishing{}), "empty publish")
	d, ok, err := ch2.Get(q2.Name, true)
	must(err, "get big")
	check(ok && bytes.Equal(d.Body, big), "big body: ok=%v len=%d", ok, len(d.Body))
	d, ok, err = ch2.Get(q2.Name, true)
	must(err, "get empty")
	check(ok && len(d.Body) == 0, "empty body: ok=%v len=%d", ok, len(d.Body))

	// Server-sent basic.cancel when the consumed queue is deleted.
	ch3, err := conn.Channel()
	must(err, "channel 3")
	q3, err := ch3.QueueDeclare("go-cancel-me", false, false, false, false, nil)
	must(err, "queue 3")
	cancels := ch3.NotifyCancel(make(chan string, 1))
	_, err = ch3.Consume(q3.Name, "doomed", true, false, false, false, nil)
	must(err, "consume 3")
	_, err = ch2.QueueDelete(q3.Name, false, false, false)
	must(err, "delete")
	select {
	case tag := <-cancels:
		check(tag == "doomed", "cancelled tag %q", tag)
	case <-time.After(30 * time.Second):
		check(false, "no basic.cancel")
	}

	// A soft error closes the channel only.
	_, err = ch2.QueueDeclarePassive("go-missing", false, false, false, false, nil)
	e, isAmqp := err.(*amqp.Error)
	check(isAmqp && e.Code == 404, "passive declare of a missing queue: %v", err)
	ch4, err := conn.Channel()
	must(err, "the connection survives a channel error")

	// Transactions.
	must(ch4.Tx(), "tx.select")
	q4, err := ch4.QueueDeclare("", false, true, true, false, nil)
	must(err, "queue 4")
	must(ch4.Publish("", q4.Name, false, false, amqp.Publishing{Body: []byte("t")}), "tx publish")
	must(ch4.TxRollback(), "rollback")
	must(ch4.Publish("", q4.Name, false, false, amqp.Publishing{Body: []byte("t")}), "tx publish 2")
	must(ch4.TxCommit(), "commit")
	info, err := ch4.QueueInspect(q4.Name)
	must(err, "inspect")
	check(info.Messages == 1, "after rollback+commit: %d messages", info.Messages)
	fmt.Println("go client: ok")
}
