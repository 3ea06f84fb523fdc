// Hand-written, copied beside the generated fieldwork.swift by
// bindings/scripts/generate.sh: live queries as AsyncSequences.
//
// Not compiled on the Linux machine that generates the bindings (no swiftc
// there); Xcode compiles it with the generated file (mobile-shell/ios).
//
// Each stream subscribes when it is made: the first element is the initial
// snapshot, then a new snapshot (the whole result, not a diff) follows each
// change that altered it. Only the newest snapshot is buffered. Ending the
// iteration (leaving the `for await` loop, cancelling its Task) cancels the
// subscription. Closing the device finishes the stream (the observer's
// `ended()`): the `for await` loop ends. A query that fails (the device was
// wiped) finishes the stream with that FieldworkError. On a closed device the
// stream finishes at once with FieldworkError.Closed.

import Foundation

private final class StreamQueryObserver: QueryObserver, @unchecked Sendable {
    let continuation: AsyncThrowingStream<[RecordSummary], Error>.Continuation
    init(_ continuation: AsyncThrowingStream<[RecordSummary], Error>.Continuation) {
        self.continuation = continuation
    }
    func snapshot(rows: [RecordSummary]) throws { continuation.yield(rows) }
    func failed(error: FieldworkError) throws { continuation.finish(throwing: error) }
    func ended() throws { continuation.finish() }
}

private final class StreamSearchObserver: SearchObserver, @unchecked Sendable {
    let continuation: AsyncThrowingStream<[SearchHit], Error>.Continuation
    init(_ continuation: AsyncThrowingStream<[SearchHit], Error>.Continuation) {
        self.continuation = continuation
    }
    func snapshot(hits: [SearchHit]) throws { continuation.yield(hits) }
    func failed(error: FieldworkError) throws { continuation.finish(throwing: error) }
    func ended() throws { continuation.finish() }
}

private final class StreamRecordObserver: RecordObserver, @unchecked Sendable {
    let continuation: AsyncThrowingStream<RecordView?, Error>.Continuation
    init(_ continuation: AsyncThrowingStream<RecordView?, Error>.Continuation) {
        self.continuation = continuation
    }
    func changed(record: RecordView?) throws { continuation.yield(record) }
    func failed(error: FieldworkError) throws { continuation.finish(throwing: error) }
    func ended() throws { continuation.finish() }
}

extension FieldworkDevice {
    /// The rows of `list(kind:options:)`, now and after every change that alters them.
    public func querySnapshots(kind: Kind, options: ListOptions = ListOptions())
        -> AsyncThrowingStream<[RecordSummary], Error>
    {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try observeQuery(
                    kind: kind, options: options, observer: StreamQueryObserver(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// The hits of `search(text:kind:limit:)`, now and after every change that alters them.
    public func searchSnapshots(text: String, kind: Kind? = nil, limit: Int32 = 20)
        -> AsyncThrowingStream<[SearchHit], Error>
    {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try observeSearch(
                    text: text, kind: kind, limit: limit, observer: StreamSearchObserver(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// The card of record `id`, now and after every change to it; `nil` while it is not on
    /// the device or not readable (revoked).
    public func recordSnapshots(id: String) -> AsyncThrowingStream<RecordView?, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try observeRecord(id: id, observer: StreamRecordObserver(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }
}
