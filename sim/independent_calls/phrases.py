"""What the far party says: family phone-call talk written for this generator, English and Spanish.

Why our own sentences: the detector's tuning corpus has its own texts; reusing none of them keeps this corpus apart.
"""

from __future__ import annotations

ENGLISH: tuple[str, ...] = (
    "Hey baby, it's so good to hear your voice.",
    "Your sister came by on Sunday with the kids.",
    "Did you get the pictures I mailed last week?",
    "The lawyer said he would call you back on Thursday.",
    "Grandma is doing better, she got out of the hospital yesterday.",
    "I put forty dollars on your account this morning.",
    "Marcus started his new job at the warehouse.",
    "We had a cookout for your cousin's birthday.",
    "The car broke down again, I had to take the bus to work.",
    "Are they feeding you all right in there?",
    "I talked to your mother, she says hello.",
    "The baby is walking now, you should see her.",
    "It's been raining all week over here.",
    "I can't make it this weekend, but I will come the next one.",
    "Did they move you to a different unit?",
    "Tell me what the counselor said about the program.",
    "Your brother wants to talk to you for a minute.",
    "I found a cheaper apartment on the east side.",
    "The dog keeps waiting by the door for you.",
    "We're all praying for you, you know that.",
    "How many more months until the hearing?",
    "I sent the forms to the court, they got them.",
    "Little Jay got an A on his math test.",
    "Uncle Ray says he's sorry he didn't write.",
    "I'm working double shifts until the end of the month.",
    "Okay, okay, I hear you, calm down.",
    "Hold on, let me turn the TV down.",
    "So what did the doctor tell you about your back?",
    "I miss you so much, it's hard without you.",
    "We only have a few minutes left, so listen.",
    "Yeah. Uh huh. I know.",
    "No, no, that's not what I meant.",
    "Did you eat today? Are you sleeping?",
    "Your daughter drew a picture for you, I'll send it.",
)

SPANISH: tuple[str, ...] = (
    "Hola mijo, qué gusto escucharte.",
    "Tu hermana vino el domingo con los niños.",
    "¿Recibiste las fotos que te mandé la semana pasada?",
    "El abogado dijo que te va a llamar el jueves.",
    "Tu abuela ya salió del hospital, está mejor.",
    "Te deposité cuarenta dólares esta mañana.",
    "Tu primo consiguió trabajo en la construcción.",
    "Hicimos una carne asada para el cumpleaños de tu tía.",
    "Se descompuso el carro otra vez, ando en camión.",
    "¿Te están dando bien de comer allá adentro?",
    "Hablé con tu mamá, te manda muchos saludos.",
    "La niña ya camina, tienes que verla.",
    "Aquí ha llovido toda la semana.",
    "No puedo ir este fin de semana, pero voy el próximo.",
    "¿Te cambiaron de módulo o sigues en el mismo?",
    "Cuéntame qué te dijo el consejero del programa.",
    "Tu hermano quiere hablar contigo un ratito.",
    "Encontré un departamento más barato cerca del mercado.",
    "El perro se queda esperándote en la puerta.",
    "Todos estamos rezando por ti, ya lo sabes.",
    "¿Cuántos meses faltan para la audiencia?",
    "Mandé los papeles al juzgado y ya los recibieron.",
    "Tu hijo sacó diez en el examen de matemáticas.",
    "Estoy trabajando doble turno hasta fin de mes.",
    "Sí, sí, ya te entendí, tranquilo.",
    "Espérame, deja bajarle a la tele.",
    "¿Y qué te dijo el doctor de la espalda?",
    "Te extraño mucho, es muy difícil sin ti.",
    "Nada más nos quedan unos minutos, escúchame.",
    "Ajá. Sí. Ya sé.",
    "No, no, eso no fue lo que quise decir.",
    "¿Ya comiste? ¿Estás durmiendo bien?",
    "Tu hija te hizo un dibujo, te lo voy a mandar.",
)


def sentences(language: str) -> tuple[str, ...]:
    return SPANISH if language == "es" else ENGLISH
