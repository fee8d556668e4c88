"""The built-in words of every text, in each language the service speaks.

Texts about a course are *parts*: alone, a part is sent as "{clinic}: {part}"; on a day with
several, they share one message with the clinic's name once in front. The other texts go alone.
Placeholders: {clinic}, {phone}, {emergency}, {crisis}, {day}, {time} (a session's), and
{patient} (an id, in the staff alert only). A clinic may replace any of them (`TEMPLATES_FILE`);
`domain.templates` checks every one before it is used.

Spanish uses "usted". Its texts choose words that need no á, í, ó or ú (é, ñ, ¿ and ¡ are in
GSM-7), and its dates name the month in full rather than the weekday, so every built-in Spanish
text stays in GSM-7: one of those letters would send the whole message as UCS-2, at 67 characters
a segment instead of 153. A clinic's own wording may use them; it is checked at that size.
"""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.domain.states import Language

EN, ES = Language.EN, Language.ES

# Texts sent on their own, to patients.
MESSAGES: Mapping[Language, Mapping[str, str]] = {
    EN: {
        "welcome": (
            "{clinic}: You're signed up for visit texts, at most 1 a day. "
            "Reply HELP for help, STOP to opt out. Msg&data rates may apply."
        ),
        "help": (
            "{clinic} visit texts. Help: {phone}. Emergency: {emergency}. Crisis support: {crisis}. "
            "Msg&data rates may apply. Reply STOP to opt out."
        ),
        "unrecognised": (
            "{clinic}: This number can't answer medical questions. Please call {phone}. "
            "Emergency: {emergency}. Crisis support: {crisis}."
        ),
        "urgent": (
            "{clinic}: If you are in danger, call {emergency} now. Crisis support: {crisis}. "
            "Our team has been told. You can also call {phone}."
        ),
        "confirmed": "{clinic}: Thanks, you're confirmed for {day} at {time}.",
        "nothing-to-confirm": "{clinic}: We couldn't find an upcoming visit to confirm. Please call {phone}.",
        "change-requested": (
            "{clinic}: Got it. Our team will contact you to find a new time, or call {phone}."
        ),
        "opted-out": (
            "{clinic}: You're unsubscribed and won't get more texts. Reply START to rejoin. "
            "To manage visits call {phone}."
        ),
    },
    ES: {
        "welcome": (
            "{clinic}: Le enviaremos recordatorios de sus citas, hasta 1 mensaje diario. Responda AYUDA "
            "para ayuda o PARAR para no recibirlos. Pueden aplicar tarifas de mensajes y datos."
        ),
        "help": (
            "{clinic}, recordatorios de citas. Ayuda: {phone}. Emergencias: {emergency}. Apoyo en crisis: "
            "{crisis}. Responda PARAR para no recibirlos. Pueden aplicar tarifas."
        ),
        "unrecognised": (
            "{clinic}: Por este medio no respondemos preguntas médicas. Llame al {phone}. "
            "Emergencias: {emergency}. Apoyo en crisis: {crisis}."
        ),
        "urgent": (
            "{clinic}: Si corre peligro, llame ya al {emergency}. Apoyo en crisis: {crisis}. "
            "Ya avisamos a nuestro equipo. También puede llamar al {phone}."
        ),
        "confirmed": "{clinic}: Gracias, su cita queda confirmada: {day}, {time}.",
        "nothing-to-confirm": (
            "{clinic}: No encontramos ninguna cita pendiente de confirmar. Llame al {phone}."
        ),
        "change-requested": (
            "{clinic}: Recibido. Nuestro equipo le va a contactar para buscar otra hora, o llame al {phone}."
        ),
        "opted-out": (
            "{clinic}: Listo, dejamos de enviarle mensajes. Responda START para volver a recibirlos. "
            "Para sus citas, llame al {phone}."
        ),
    },
}

# Parts of the texts about a course, without the clinic's name in front.
PARTS: Mapping[Language, Mapping[str, str]] = {
    EN: {
        "confirm": "Your visit is {day} at {time}. Reply C to confirm or R to change it. Questions: {phone}",
        "confirm-ask": "Reply C to confirm or R to change.",
        "prep:iv": (
            "See you {day} at {time}. No food 6h before; clear drinks until 2h before. "
            "Get a ride home: no driving until the day after."
        ),
        "prep:nasal": (
            "See you {day} at {time}. No food 2h before, no drinks 30 min before. "
            "Plan on 2.5h and a ride home: no driving until the day after."
        ),
        "day-of": (
            "Today at {time}. Please come 15 min early in comfy clothes, with your ride home arranged. "
            "Running late? Call {phone}."
        ),
        "check-in": "Checking in: take it easy today. Questions? Call {phone}. Emergency: {emergency}.",
        "check-in:attended": (
            "Thanks for coming in yesterday. Take it easy today. Questions? Call {phone}. "
            "Emergency: {emergency}."
        ),
        "notice:moved": "Your visit has moved to {day} at {time}.",
        "notice:added": "A visit is booked for you on {day} at {time}.",
        "notice:cancelled": "Your visit on {day} at {time} is cancelled.",
    },
    ES: {
        "confirm": (
            "Su cita es el {day}, {time}. Responda C para confirmarla o R para cambiarla. Dudas: {phone}"
        ),
        "confirm-ask": "Responda C para confirmar o R para cambiarla.",
        "prep:iv": (
            "Le esperamos el {day}, {time}. No coma nada 6 h antes; bebidas claras hasta 2 h antes. "
            "Venga con acompañante y no maneje hasta la mañana siguiente."
        ),
        "prep:nasal": (
            "Le esperamos el {day}, {time}. No coma 2 h antes ni beba 30 min antes. Cuente con estar "
            "2,5 h y venga con acompañante: no maneje hasta la mañana siguiente."
        ),
        "day-of": (
            "Hoy, {time}. Llegue 15 min antes, con ropa holgada y con quien le lleve a casa. "
            "¿Se retrasa? Llame al {phone}."
        ),
        "check-in": "Hoy descanse. ¿Dudas? Llame al {phone}. Emergencias: {emergency}.",
        "check-in:attended": (
            "Gracias por venir ayer. Hoy descanse. ¿Dudas? Llame al {phone}. Emergencias: {emergency}."
        ),
        "notice:moved": "Su cita ahora es el {day}, {time}.",
        "notice:added": "Tiene una cita nueva el {day}, {time}.",
        "notice:cancelled": "Su cita del {day}, {time} queda cancelada.",
    },
}

# Texts to the clinic's own staff, in the clinic's language.
STAFF_MESSAGES: Mapping[str, str] = {
    "staff-alert": "{clinic}: Urgent reply from patient {patient}: see Today.",
    "staff-alert-unknown": "{clinic}: Urgent reply from a number that is no patient's: see Today.",
}
