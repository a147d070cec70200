# Crashes at once, every time: stamps its start and its exit (bash's clock, no process of its
# own) into $CRASH_LOG, so the gap from one exit to the next start is the process manager's
# restart alone.
echo "start $EPOCHREALTIME" >> "$CRASH_LOG"
echo "exit $EPOCHREALTIME" >> "$CRASH_LOG"
exit 1
