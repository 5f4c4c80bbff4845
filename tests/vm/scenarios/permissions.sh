# A user outside the gpio group gets exit 9 and the fix; in the group (as Raspberry Pi OS
# sets /dev/gpiochip*: root:gpio 0660) the same command serves. And `auto` picks the chip.
sim_chip pi4 pinctrl-bcm2711 32 named
echo 'root:x:0:0::/tmp:/bin/sh' > /etc/passwd
echo 'pi:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd
echo 'root:x:0:' > /etc/group
echo 'pi:x:1000:' >> /etc/group
echo 'gpio:x:997:' >> /etc/group
chgrp 997 "$CHIP"
chmod 0660 "$CHIP"
as_pi() { su -s /bin/sh pi -c "$*"; }

as_pi "nicksock serve-gpio --pin 13 --port 8081 127.0.0.1 2> /tmp/denied.err"
report outsider-status $?
report outsider-error "$(cat /tmp/denied.err)"

sed -i 's/^gpio:x:997:$/gpio:x:997:pi/' /etc/group
as_pi "nicksock serve-gpio --pin 13 127.0.0.1 2> /tmp/member.err" &
tries=0
until wget -q -O /dev/null http://127.0.0.1:8080/api/pins 2> /dev/null || [ $tries -gt 200 ]; do
  tries=$((tries + 1))
  sleep 0.05
done
api_post 13 '{"state":"on"}' > /dev/null && report member-level "$(level 13)"
report member-says "$(head -1 /tmp/member.err)"
report member-holder "$(holder 13)"
