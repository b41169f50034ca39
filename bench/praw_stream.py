"""What a PRAW user writes to follow subreddits in real time, pointed at the fake Reddit: one
`stream.submissions(pause_after=-1)` and one `stream.comments(pause_after=-1)` per subreddit,
interleaved round-robin in one process (the pattern of PRAW's documentation), paced by PRAW's own
rate limiter (prawcore reads X-Ratelimit-Remaining/Used/Reset).

Run by bench/watch_bench.py with the PRAW virtualenv's Python:
    python praw_stream.py API_URL CLIENT_ID CLIENT_SECRET SECONDS SUB [SUB...]
Prints one JSON line per item PRAW yields: {"fullname", "at"} (`at`: epoch seconds of the yield),
and a last line {"event": "done", "praw": VERSION} (the calls are counted by the fake).
"""
import json
import sys
import time

import praw


def main():
    url, client_id, secret, seconds = sys.argv[1:5]
    subs = sys.argv[5:]
    reddit = praw.Reddit(
        client_id=client_id,
        client_secret=secret,
        user_agent="bench:praw-stream:0.1 (by /u/bench)",
        oauth_url=url,
        reddit_url=url,
        short_url=url,
        check_for_updates=False,
    )
    streams = []
    for name in subs:
        sub = reddit.subreddit(name)
        streams.append(sub.stream.submissions(pause_after=-1))
        streams.append(sub.stream.comments(pause_after=-1))
    end = time.time() + float(seconds)
    out = sys.stdout
    while time.time() < end:
        for stream in streams:
            for item in stream:
                if item is None:
                    break
                out.write(json.dumps({"fullname": item.fullname, "at": time.time()}) + "\n")
            if time.time() >= end:
                break
        out.flush()
    out.write(json.dumps({"event": "done", "praw": praw.__version__}) + "\n")


if __name__ == "__main__":
    main()
